# vmcert build-phase pre-check of an Azure Marketplace Linux image, as Packer provisioners (HCL2;
# the same steps as vmcert-build-check.json). The `null` source reaches an existing machine over
# SSH, as the end-to-end test uses it; for a real build use your azure-arm source (README.md) and
# keep the build block's provisioners.

variable "host" {
  type = string
}

variable "port" {
  type    = number
  default = 22
}

variable "user" {
  type    = string
  default = "azureuser"
}

variable "private_key_file" {
  type = string
}

variable "vmcert_binary" {
  type    = string
  default = "vmcert"
}

variable "remote_dir" {
  type    = string
  default = "/tmp/vmcert"
}

variable "output_dir" {
  type    = string
  default = "vmcert-report"
}

variable "vmcert_args" {
  type    = string
  default = "--allow-unanswered"
}

source "null" "build_vm" {
  communicator         = "ssh"
  ssh_host             = var.host
  ssh_port             = var.port
  ssh_username         = var.user
  ssh_private_key_file = var.private_key_file
}

build {
  sources = ["source.null.build_vm"]

  provisioner "shell" {
    inline = ["mkdir -p ${var.remote_dir}/out"]
  }

  provisioner "file" {
    source      = var.vmcert_binary
    destination = "${var.remote_dir}/vmcert"
  }

  # Runs the checks as root; keeps vmcert's exit status so the report is downloaded first.
  provisioner "shell" {
    inline = [
      "cd ${var.remote_dir} && chmod 755 vmcert",
      "code=0",
      "sudo ./vmcert run --local --phase build --non-interactive --name \"$(hostname)-build\" --out out/vmcert-report.zip --junit out/vmcert-junit.xml ${var.vmcert_args} || code=$?",
      "echo \"$code\" > out/exit-code",
      "sudo chown -R \"$(id -un)\" out",
    ]
  }

  provisioner "file" {
    direction   = "download"
    source      = "${var.remote_dir}/out/vmcert-report.zip"
    destination = "${var.output_dir}/vmcert-report.zip"
  }

  provisioner "file" {
    direction   = "download"
    source      = "${var.remote_dir}/out/vmcert-junit.xml"
    destination = "${var.output_dir}/vmcert-junit.xml"
  }

  # Fails the build when vmcert did (a Fail, or an Error: see --fail-on), after the download.
  provisioner "shell" {
    inline = [
      "code=$(cat ${var.remote_dir}/out/exit-code)",
      "rm -rf ${var.remote_dir}",
      "echo \"vmcert exited with $code\"",
      "exit \"$code\"",
    ]
  }
}

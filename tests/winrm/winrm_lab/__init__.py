"""vmcert's WS-Management test server: a stand-in for a Windows Server's WinRM service.

Why this package exists: see tests/winrm/README.md. Entry point: tests/winrm/serve.py.
"""

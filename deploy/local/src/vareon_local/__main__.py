from vareon_local.cli import app

app(prog_name="vareon")

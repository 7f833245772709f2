from latte_cli.cli.main import main

main()

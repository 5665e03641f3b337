from evcs.cli import main

main()

from sesstail.cli import main

main()

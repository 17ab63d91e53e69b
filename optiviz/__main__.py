from optiviz.cli import main

main()

from rnnforecast.cli import main

main()

from mediarec.cli import main

main()

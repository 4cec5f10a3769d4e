from stylegan.cli import main

main()

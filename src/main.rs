fn main() {
    std::process::exit(loadgate::app::main(std::env::args_os()));
}

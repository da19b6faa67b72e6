fn main() {
    // Page templates are compiled into the binary.
    minijinja_embed::embed_templates!("templates");
}

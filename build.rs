fn main() {
    // Page templates are compiled into the binary.
    minijinja_embed::embed_templates!("templates");
    // So are the message files (src/domain/i18n.rs): a new file rebuilds.
    println!("cargo:rerun-if-changed=locales");
}

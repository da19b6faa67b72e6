use super::*;
use crate::domain::message::TemplateEmail;

fn vars() -> MessageVars {
    MessageVars {
        payment_url: "https://pay.test/pay/TOKEN".into(),
        company_logo_url: "https://pay.test/logo/co_1".into(),
        ..MessageVars::sample("https://pay.test")
    }
}

#[test]
fn every_variable_renders_in_every_part() {
    let all = VARIABLES
        .iter()
        .map(|v| format!("[{{{{ {v} }}}}]"))
        .collect::<String>();
    for part in [Part::Subject, Part::Html, Part::Text, Part::Sms] {
        validate(&all, part).unwrap();
        let out = render_part(&all, part, &vars()).unwrap();
        assert!(!out.contains("[]"), "{part:?}: {out}");
    }
    let html = render_part("{{ email_payment_link }}", Part::Html, &vars()).unwrap();
    assert!(
        html.starts_with("<a href=\"https://pay.test/pay/TOKEN\" style=\"display:inline-block;")
            && html.ends_with(">Click Here to Make Payment</a>"),
        "{html}"
    );
    assert!(html.contains("background:#1d5fbf"), "{html}");
    let text = render_part("{{ email_payment_link }}", Part::Text, &vars()).unwrap();
    assert_eq!(
        text,
        "Click Here to Make Payment: https://pay.test/pay/TOKEN"
    );
    let sms = render_sms("Pay: {{ sms_payment_link }}", &vars()).unwrap();
    assert_eq!(sms.text, "Pay: https://pay.test/pay/TOKEN");
}

#[test]
fn html_escapes_and_plain_text_does_not() {
    let v = MessageVars {
        customer_name: "<b>x</b> & co".into(),
        ..vars()
    };
    let html = render_part("Hi {{ customer_name }}", Part::Html, &v).unwrap();
    assert_eq!(html, "Hi &lt;b&gt;x&lt;/b&gt; &amp; co");
    let sms = render_sms("Hi {{ customer_name }}", &v).unwrap();
    assert_eq!(sms.text, "Hi <b>x</b> & co");
    let e = render_email(
        &TemplateEmail {
            subject: "For {{ customer_name }}\r\nBcc: a@b.c".into(),
            html_body: "<p>Hi {{ customer_name }}</p>".into(),
            text_body: None,
        },
        &v,
    )
    .unwrap();
    assert_eq!(e.subject, "For <b>x</b> & co Bcc: a@b.c");
    assert_eq!(e.text, "Hi <b>x</b> & co");
}

#[test]
fn syntax_errors_give_line_and_column() {
    let e = validate("Hello\nthere\n  {{ customer_name }\n", Part::Html).unwrap_err();
    match e {
        TemplateError::Syntax { line, column, .. } => {
            assert_eq!(line, 3);
            assert!(column > 1, "{column}");
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().starts_with("line 3, column "), "{e}");
    assert_eq!(line_column("ab\ncdé", 7), (2, 4));
}

#[test]
fn unknown_variables_are_named() {
    let e = validate("Hi {{ customer_nme }}", Part::Sms).unwrap_err();
    assert_eq!(e, TemplateError::UnknownVariable("customer_nme".into()));
    assert!(e.to_string().contains("customer_nme"));
    // Loop variables and `loop` are fine.
    validate(
        "{% for c in customer_name %}{{ c }}{{ loop.index }}{% endfor %}",
        Part::Sms,
    )
    .unwrap();
}

#[test]
fn includes_imports_extends_and_autoescape_are_refused() {
    for src in [
        "{% include \"x\" %}",
        "{%- include 'x' -%}",
        "{% extends \"base.html\" %}",
        "{% import \"m\" as m %}",
        "{% from \"m\" import x %}",
        "{% autoescape false %}{{ customer_name }}{% endautoescape %}",
    ] {
        let e = validate(src, Part::Html).unwrap_err();
        assert!(matches!(e, TemplateError::Forbidden(_)), "{src}: {e:?}");
        assert!(render_part(src, Part::Html, &vars()).is_err());
    }
}

#[test]
fn filters_are_allow_listed() {
    assert_eq!(
        render_part("{{ customer_name|upper }}", Part::Sms, &vars()).unwrap(),
        "JANE DOE"
    );
    let v = MessageVars {
        customer_name: "<i>".into(),
        ..vars()
    };
    // `safe` is not allowed: user data cannot be unescaped.
    assert!(validate("{{ customer_name|safe }}", Part::Html).is_err());
    assert!(render_part("{{ customer_name|safe }}", Part::Html, &v).is_err());
    assert!(validate("{{ customer_name|tojson }}", Part::Html).is_err());
    let e = validate("{{ customer_name|safe }}", Part::Html).unwrap_err();
    assert!(e.to_string().contains("the filters are: upper"), "{e}");
}

#[test]
fn runaway_loops_stop_by_fuel() {
    let e = validate(
        "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
        Part::Sms,
    )
    .unwrap_err();
    assert_eq!(e, TemplateError::TooExpensive);
    assert!(e.to_string().contains("too much work"));
    let e = validate(
        "{% for i in range(100000000) %}{{ i }}{% endfor %}",
        Part::Html,
    )
    .unwrap_err();
    assert_eq!(e, TemplateError::TooExpensive);
    // Macros (recursion) are not part of the grammar.
    let e = validate("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", Part::Sms).unwrap_err();
    assert_eq!(e, TemplateError::Forbidden("macro".into()));
}

#[test]
fn output_is_limited() {
    let e = validate("{% for i in range(1000) %}xx{% endfor %}", Part::Sms).unwrap_err();
    assert!(matches!(e, TemplateError::TooLong(_)), "{e:?}");
    let e = validate(
        "{% for i in range(1000) %}{% for j in range(10) %}{{ company_name }}{% endfor %}{% endfor %}",
        Part::Html,
    )
    .unwrap_err();
    assert!(matches!(
        e,
        TemplateError::TooLong(_) | TemplateError::TooExpensive
    ));
}

#[test]
fn the_grammar_is_restricted() {
    for (src, refused) in [
        ("{{ customer_name ~ customer_name }}", "`~`"),
        ("{{ customer_name + customer_name }}", "`+`"),
        ("{{ customer_name * 3 }}", "`*`"),
        ("{{ 2 ** 3 }}", "`**`"),
        ("{{ [customer_name] }}", "list"),
        ("{{ {'a': 1} }}", "dict"),
        ("{{ customer_name[0] }}", "subscript"),
        ("{{ (customer_name, customer_name) }}", "tuple"),
        ("{{ customer_name, customer_name }}", "`,`"),
        (
            "{% for x in (customer_name, company_name) %}{% endfor %}",
            "tuple",
        ),
        (
            "{{ customer_name|default((customer_name, customer_name)) }}",
            "tuple",
        ),
        (
            "{% for x in customer_name, company_name %}{% endfor %}",
            "`,`",
        ),
    ] {
        let e = validate(src, Part::Html).unwrap_err();
        assert!(
            matches!(e, TemplateError::Syntax { .. }) && e.to_string().contains(refused),
            "{src}: {e}"
        );
    }
    for (src, tag) in [
        ("{% set x = 1 %}", "set"),
        ("{% set x %}{{ customer_name }}{% endset %}", "set"),
        ("{% with x = 1 %}{% endwith %}", "with"),
        ("{% filter upper %}x{% endfilter %}", "filter"),
        ("{% block b %}{% endblock %}", "block"),
    ] {
        assert_eq!(
            validate(src, Part::Sms).unwrap_err(),
            TemplateError::Forbidden(tag.into()),
            "{src}"
        );
    }
    // `replace` could multiply a value's size: not allowed.
    assert!(validate("{{ customer_name|replace('a', 'bb') }}", Part::Sms).is_err());
    for ok in [
        "{{ customer_name|default('x')|upper }} {{ customer_name|trim|title }}",
        "{% for c in range(3) %}{{ loop.index }}{% if not loop.last %}-{% endif %}{% endfor %}",
        "{% if invoice_number and (customer_name or company_name) %}x{% elif 1 - 1 %}y{% else %}z{% endif %}",
        "{{ 'due' if invoice_due_date else 'now' }} {{ customer_name|length > 3 }}",
        "{% raw %}{{ not ~ parsed }}{% endraw %}",
    ] {
        validate(ok, Part::Html).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    assert_eq!(
        render_part(
            "{% for c in range(3) %}{{ loop.index }}{% endfor %}",
            Part::Sms,
            &vars()
        )
        .unwrap(),
        "123"
    );
}

#[test]
fn attribute_access_renders_nothing_harmful() {
    for src in [
        "{{ customer_name.__class__ }}",
        "{{ customer_name.__class__.__mro__ }}",
        "{{ customer_name['__class__'] }}",
    ] {
        assert!(validate(src, Part::Html).is_err(), "{src}");
        match render_part(src, Part::Html, &vars()) {
            Ok(out) => assert!(out.is_empty(), "{src}: {out}"),
            Err(e) => assert!(!e.to_string().contains("class '"), "{e}"),
        }
    }
}

#[test]
fn text_is_derived_from_html() {
    let html = "<html><head><style>p{color:red}</style></head><body>\
        <h1>Hi &amp; welcome</h1><p>Pay   <a href=\"https://x.test/pay/a?b=1&amp;c=2\">here</a>.</p>\
        <script>alert(1)</script><p>Line<br>two&nbsp;&#8364; &#x41;</p>\
        <p><a href='https://x.test'>https://x.test</a></p><!-- hidden --></body></html>";
    assert_eq!(
        html_to_text(html),
        "Hi & welcome\n\nPay here: https://x.test/pay/a?b=1&c=2.\n\nLine\ntwo € A\n\nhttps://x.test"
    );
    assert_eq!(decode_entities("a &bogus; & b &lt;"), "a &bogus; & b <");
    assert_eq!(html_to_text("plain   text"), "plain text");
}

#[test]
fn sms_segments_count_gsm7_and_ucs2() {
    let s = |t: &str| sms_segments(t);
    assert_eq!(s("").segments, 0);
    assert_eq!(s(&"a".repeat(160)).segments, 1);
    assert_eq!(s(&"a".repeat(161)).segments, 2);
    assert_eq!(s(&"a".repeat(306)).segments, 2);
    assert_eq!(s(&"a".repeat(307)).segments, 3);
    let euro = s("€");
    assert_eq!((euro.encoding, euro.units), (SmsEncoding::Gsm7, 2));
    assert_eq!(s(&format!("{}€", "a".repeat(158))).segments, 1);
    assert_eq!(s(&format!("{}€", "a".repeat(159))).segments, 2);
    let one_emoji = format!("{}😀", "a".repeat(68));
    let e = s(&one_emoji);
    assert_eq!(
        (e.encoding, e.units, e.segments),
        (SmsEncoding::Ucs2, 70, 1)
    );
    assert_eq!(s(&format!("{}😀", "a".repeat(69))).segments, 2);
    assert_eq!(s(&"é".repeat(70)).encoding, SmsEncoding::Gsm7);
    let ucs = s(&"ж".repeat(70));
    assert_eq!((ucs.encoding, ucs.segments), (SmsEncoding::Ucs2, 1));
    assert_eq!(s(&"ж".repeat(71)).segments, 2);
    assert_eq!(s(&"ж".repeat(134)).segments, 2);
    assert_eq!(s(&"ж".repeat(135)).segments, 3);
}

#[test]
fn every_variable_has_help() {
    let named: Vec<&str> = VARIABLE_HELP.iter().map(|(v, _)| *v).collect();
    assert_eq!(named, VARIABLES);
}

#[test]
fn first_name_is_the_first_word() {
    assert_eq!(first_name("  Jane Q. Doe"), "Jane");
    assert_eq!(first_name(""), "");
}

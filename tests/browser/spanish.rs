//! A Spanish-speaking customer on a phone: the pay page in Spanish, two
//! invoices paid with autopay chosen, the receipt, the consent stored in
//! Spanish, the portal; axe-core clean with `lang="es"` at every step.

use crate::a11y::{Audit, have_axe, portal_account};
use crate::support::Env;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spanish_customer_pays_on_a_phone_and_opens_the_portal() {
    if !have_axe() {
        return;
    }
    let Some(env) = Env::start(360, 740).await else {
        return;
    };
    let server = &env.server;
    let (status, customer) = server
        .api(
            "POST",
            "/api/v1/customers",
            Some(serde_json::json!({"name": "Rosa Ríos", "email": "rosa@example.com", "language": "es"})),
        )
        .await;
    assert_eq!(status, 201, "{customer}");
    let id = customer["id"].as_str().unwrap().to_string();
    let home = server
        .property("14 Calle Olmo, Austin, TX", &id, None)
        .await;
    server.invoice(&home, 8900, &server.day(-3)).await;
    server.invoice(&home, 21500, &server.day(-1)).await;
    let link = server.link_url(&id).await;
    let lang = || async {
        env.css("html")
            .await
            .attr("lang")
            .await
            .unwrap()
            .unwrap_or_default()
    };

    let mut audit = Audit::new();
    env.goto(&link).await;
    env.wait_for_text("Facturas de Rosa Ríos").await;
    assert_eq!(lang().await, "es");
    let text = env.wait_for_text("Pagar $304.00").await;
    assert!(text.contains("Vencida hace 3 días"), "{text}");
    audit.check(&env, "pay page (es)").await;
    env.screenshot("paypage-es-phone").await;

    // The card processor's refusal reads Spanish too.
    env.fill_card("4242424242424241").await;
    env.click("#pay-button").await;
    env.wait_for_text("El número de la tarjeta es incorrecto")
        .await;

    env.fill_card("4242424242424242").await;
    env.click("input[name=plan][value=autopay]").await;
    env.set_checked("#autopay-consent", true).await;
    env.click("#pay-button").await;
    let receipt = env.wait_for_text("Pagó $304.00. ¡Gracias!").await;
    assert!(receipt.contains("Visa terminada en 4242"), "{receipt}");
    assert_eq!(lang().await, "es");
    audit.check(&env, "receipt (es)").await;

    let (_, autopay) = server
        .api("GET", &format!("/api/v1/customers/{id}/autopay"), None)
        .await;
    let consent = autopay["consent"]["text"].as_str().unwrap_or_default();
    assert!(consent.starts_with("Autorizo a"), "{autopay}");

    // The switch: English, then back to Español.
    env.goto(&link).await;
    env.click("nav.lang-switch a[lang=en]").await;
    env.wait_for_text("You're all paid up").await;
    assert_eq!(lang().await, "en");
    env.click("nav.lang-switch a[lang=es]").await;
    env.wait_for_text("Está al día con sus pagos").await;

    // The portal, in Spanish.
    portal_account(&env, &id, "rosa@example.com", "una contraseña larga").await;
    env.goto(&env.url("/portal/login")).await;
    env.wait_for_text("Con su contraseña").await;
    audit.check(&env, "portal sign-in (es)").await;
    env.type_into("#email", "rosa@example.com").await;
    env.type_into("#password", "una contraseña larga").await;
    env.click("form[action='/portal/login'] button[type=submit]")
        .await;
    env.wait_for_text("Historial de pagos").await;
    assert_eq!(lang().await, "es");
    audit.check(&env, "portal home (es)").await;
    for path in ["/portal/history", "/portal/cards"] {
        env.goto(&env.url(path)).await;
        assert_eq!(lang().await, "es");
        audit.check(&env, path).await;
    }
    audit.assert_clean();
}

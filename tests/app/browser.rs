//! A person's walk through the page in headless Chromium: open, sign in through the dialog,
//! see the name and stars, sign out. Skips (saying why) when Chromium is not installed,
//! unless BOOKINFO_REQUIRE_BROWSER=1 (CI) makes that a failure.

use fantoccini::Locator;

use crate::support::{
    browser::{Browser, REQUIRE_BROWSER},
    heavy_suite, whole_app,
};

#[tokio::test]
async fn sign_in_and_out_through_the_dialog_in_chromium() {
    let _heavy = heavy_suite();
    let started = Browser::start()
        .await
        .map_err(|why| format!("the browser cannot start: {why}"));
    let Some(browser) = test_kit::tool_or_skip(
        "sign_in_and_out_through_the_dialog_in_chromium",
        REQUIRE_BROWSER,
        started,
    ) else {
        return;
    };
    let app = whole_app().await;
    let page = format!(
        "http://127.0.0.1:{}/productpage",
        app.productpage.addr().port()
    );
    let client = &browser.client;
    let script = |js: &'static str| async move { client.execute(js, vec![]).await.unwrap() };
    let click = |css: &'static str| async move {
        client
            .wait()
            .for_element(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    };
    client.goto(&page).await.unwrap();
    let title = script("return document.title").await;
    assert_eq!(title, "Simple Bookstore App");

    click("#sign-in-button").await;
    assert_eq!(
        script("return document.getElementById('dialog').open").await,
        true
    );
    for (field, text) in [("#username", "jason"), ("#password", "secret")] {
        let input = client.find(Locator::Css(field)).await.unwrap();
        input.send_keys(text).await.unwrap();
    }
    click("form[name=login_form] button[type=submit]").await;

    let user = client
        .wait()
        .for_element(Locator::Css("#signed-in-user"))
        .await
        .unwrap();
    assert_eq!(user.text().await.unwrap(), "jason");
    // Round robin: after v1 came v2; reload until a version with stars answers.
    let mut stars = 0;
    for _ in 0..3 {
        stars = script("return document.querySelectorAll('.glyphicon-star').length")
            .await
            .as_u64()
            .unwrap_or(0);
        if stars > 0 {
            break;
        }
        client.goto(&page).await.unwrap();
    }
    assert_eq!(stars, 9);
    let visible = script("const s = document.querySelector('.glyphicon-star').getBoundingClientRect(); return s.width > 0 && s.height > 0").await;
    assert_eq!(visible, true, "stars are rendered with a size");

    let dir = std::env::var_os("BOOKINFO_SCREENSHOT_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")));
    std::fs::create_dir_all(&dir).unwrap();
    let shot = dir.join("productpage.png");
    std::fs::write(&shot, client.screenshot().await.unwrap()).unwrap();
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "a real screenshot"
    );
    println!("screenshot saved to {}", shot.display());

    click("a[href='/logout']").await;
    client
        .wait()
        .for_element(Locator::Css("#sign-in-button"))
        .await
        .unwrap();
    let signed_in = script("return document.getElementById('signed-in-user') !== null").await;
    assert_eq!(signed_in, false);
    browser.close().await;
    app.stop().await.unwrap();
}

//! A person's walk through the page in headless Chromium: open, sign in through the dialog,
//! see the name and stars, sign out. Skips (saying why) when Chromium is not installed,
//! unless BOOKINFO_REQUIRE_BROWSER=1 (CI) makes that a failure.

mod support;

use support::{
    webdriver::{Browser, REQUIRE_BROWSER},
    whole_app,
};

#[tokio::test]
async fn sign_in_and_out_through_the_dialog_in_chromium() {
    let browser = match Browser::start().await {
        Ok(browser) => browser,
        Err(why) if std::env::var(REQUIRE_BROWSER).is_ok_and(|v| v == "1") => {
            panic!("{REQUIRE_BROWSER}=1 but the browser cannot start: {why}")
        }
        Err(why) => {
            println!("SKIPPED sign_in_and_out_through_the_dialog_in_chromium: {why}");
            return;
        }
    };
    let app = whole_app().await;
    let page = format!(
        "http://127.0.0.1:{}/productpage",
        app.productpage.addr().port()
    );
    browser.goto(&page).await.unwrap();
    let title = browser.script("return document.title").await.unwrap();
    assert_eq!(title, "Simple Bookstore App");

    browser.click("#sign-in-button").await.unwrap();
    assert_eq!(
        browser
            .script("return document.getElementById('dialog').open")
            .await
            .unwrap(),
        true
    );
    browser.type_into("#username", "jason").await.unwrap();
    browser.type_into("#password", "secret").await.unwrap();
    browser
        .click("form[name=login_form] button[type=submit]")
        .await
        .unwrap();

    assert_eq!(browser.text("#signed-in-user").await.unwrap(), "jason");
    // Round robin: after v1 came v2; reload until a version with stars answers.
    let mut stars = 0;
    for _ in 0..3 {
        stars = browser
            .script("return document.querySelectorAll('.glyphicon-star').length")
            .await
            .unwrap()
            .as_u64()
            .unwrap_or(0);
        if stars > 0 {
            break;
        }
        browser.goto(&page).await.unwrap();
    }
    assert_eq!(stars, 9);
    let visible = browser
        .script("const s = document.querySelector('.glyphicon-star').getBoundingClientRect(); return s.width > 0 && s.height > 0")
        .await
        .unwrap();
    assert_eq!(visible, true, "stars are rendered with a size");

    let dir = std::env::var_os("BOOKINFO_SCREENSHOT_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")));
    std::fs::create_dir_all(&dir).unwrap();
    let shot = dir.join("productpage.png");
    browser.screenshot(&shot).await.unwrap();
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "a real screenshot"
    );
    println!("screenshot saved to {}", shot.display());

    browser.click("a[href='/logout']").await.unwrap();
    browser.find("#sign-in-button").await.unwrap();
    let signed_in = browser
        .script("return document.getElementById('signed-in-user') !== null")
        .await
        .unwrap();
    assert_eq!(signed_in, false);
    browser.close().await;
    app.stop().await.unwrap();
}

//! Signing in and out, and the signed-in user reaching ratings.

use super::*;

#[tokio::test]
async fn signing_in_shows_the_user_and_signing_out_forgets_them() {
    let app = whole_app().await;
    let base = app.productpage.url();
    let login = fetch(
        client()
            .post(format!("{base}/login"))
            .form(&[("username", "jason"), ("passwd", "")]),
    )
    .await;
    assert_eq!(login.status, 302);
    assert_eq!(login.headers["location"], "/productpage");
    let set_cookie = login.headers["set-cookie"].to_str().unwrap();
    assert!(set_cookie.starts_with("session="), "{set_cookie}");
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("Path=/"),
        "{set_cookie}"
    );
    assert!(!set_cookie.contains("Secure"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap();

    let page = fetch(
        client()
            .get(format!("{base}/productpage"))
            .header("cookie", cookie),
    )
    .await;
    assert!(page.body.contains(">jason</span>"));
    assert!(page.body.contains("href=\"/logout\""));
    assert!(
        !page.body.contains("Sign in"),
        "no sign-in button once signed in"
    );

    let logout = fetch(
        client()
            .get(format!("{base}/logout"))
            .header("cookie", cookie),
    )
    .await;
    assert_eq!(logout.status, 302);
    assert!(
        logout.headers["set-cookie"]
            .to_str()
            .unwrap()
            .starts_with("session=; Max-Age=0")
    );
    let anonymous = get(format!("{base}/productpage")).await;
    assert!(anonymous.body.contains("id=\"sign-in-button\""));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn login_rejects_empty_names_and_off_site_redirects() {
    let app = whole_app().await;
    let base = app.productpage.url();
    let long = "x".repeat(300);
    for form in [
        vec![("username", "")],
        vec![("passwd", "x")],
        vec![("username", "   ")],
        vec![("username", "tab\there")],
        vec![("username", long.as_str())],
    ] {
        let response = fetch(client().post(format!("{base}/login")).form(&form)).await;
        assert_eq!(response.status, 400, "{form:?}");
        assert!(response.body.contains("username"), "{}", response.body);
    }
    let not_a_form = fetch(client().post(format!("{base}/login")).body("{}")).await;
    assert_eq!(not_a_form.status, 415);
    let off_site = fetch(
        client()
            .post(format!("{base}/login"))
            .header("referer", "https://evil.example/phish")
            .form(&[("username", "jason")]),
    )
    .await;
    assert_eq!(off_site.headers["location"], "/productpage");
    let host = format!("127.0.0.1:{}", app.productpage.addr().port());
    let same_site = fetch(
        client()
            .post(format!("{base}/login"))
            .header("referer", format!("http://{host}/productpage?u=test"))
            .form(&[("username", "jason")]),
    )
    .await;
    assert_eq!(same_site.headers["location"], "/productpage?u=test");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn reviews_forwards_the_signed_in_user_to_ratings() {
    let ratings = Stub::start(Answer::json(
        200,
        r#"{"id":0,"ratings":{"Reviewer1":1,"Reviewer2":2}}"#,
    ))
    .await
    .unwrap();
    let reviews_v2 = serve(
        reviews::app(reviews::Config {
            ratings: Some(reviews::RatingsSettings {
                endpoints: endpoints(ratings.url()),
                timeout: Duration::from_secs(5),
            }),
            star_color: "black".into(),
            podname: "reviews-v2".into(),
            clustername: "null".into(),
            tracing: service_runtime::TraceConfig::disabled("reviews"),
        })
        .unwrap(),
    )
    .await;
    let details = serve(details::app(details::Config::v1()).unwrap()).await;
    let server = productpage(config(details.url(), vec![reviews_v2.url()], ratings.url())).await;
    let cookie = sign_in(&server.url(), "jason").await;
    let page = fetch(
        client()
            .get(format!("{}/productpage", server.url()))
            .header("cookie", &cookie)
            .header("x-request-id", "req-42"),
    )
    .await;
    assert_eq!((full_stars(&page.body), empty_stars(&page.body)), (3, 7));
    let arrived = &ratings.requests()[0].headers;
    assert_eq!(arrived["end-user"], "jason");
    assert_eq!(arrived["x-request-id"], "req-42");
}

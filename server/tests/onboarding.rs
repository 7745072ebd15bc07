//! A new agency starts a production workspace: an empty plan and no units,
//! then its own plan file and staff list, imported from the admin page's
//! endpoints. In process, with the real database and sync engine.

mod common;

use axum::http::{Method, StatusCode};
use common::Api;
use papi::access::Role;
use papi::api::{PlanImported, Session, Unit, UnitKind, UsersImported};
use papi_server::directory::{self, NewUser};
use papi_server::Config;
use serde_json::{json, Value};

const DISTRICT: &str = include_str!("../../tests/data/district-plan.yaml");
const STAFF: &str = include_str!("../../tests/data/district-staff.csv");

/// A production workspace in a new folder, with one administrator made as
/// `papi-server create-admin` makes them (in a placeholder top unit).
async fn production() -> (Api, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::for_tools(dir.path().join("data"));
    let api = Api::open(&config, dir).await;
    let db = papi_server::open_database(&config.data_dir).await.unwrap();
    assert!(
        directory::units(&db).await.unwrap().is_empty(),
        "no units before a plan"
    );
    directory::add_unit(
        &db,
        Unit {
            id: "co-quan".into(),
            name: "Cơ quan".into(),
            kind: UnitKind::Agency,
            parent: None,
        },
    )
    .await
    .unwrap();
    directory::add_user(
        &db,
        NewUser {
            username: "quantri",
            display_name: "Quản trị",
            unit: "co-quan",
            role: Role::Admin,
            password: "mật khẩu quản trị",
        },
    )
    .await
    .unwrap();
    let token = api.sign_in("quantri", "mật khẩu quản trị").await.token;
    (api, token)
}

impl Api {
    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: String,
    ) -> (StatusCode, Value) {
        let kind = match path {
            "/api/admin/plan" => papi::api::PLAN_FILE_TYPE,
            "/api/admin/users/import" => papi::api::STAFF_FILE_TYPE,
            _ => "application/json",
        };
        self.send_as(method, path, token, body, kind).await
    }

    async fn sign_in(&self, username: &str, password: &str) -> Session {
        let (status, body) = self
            .send(
                Method::POST,
                "/api/login",
                None,
                json!({ "username": username, "password": password }).to_string(),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_value(body).unwrap()
    }

    async fn export(&self, token: &str) -> String {
        let (status, body) = self
            .send(Method::GET, "/api/admin/plan", Some(token), String::new())
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body.as_str().expect("YAML text").to_string()
    }

    async fn import(&self, token: &str, text: &str) -> (StatusCode, Value) {
        self.send(
            Method::POST,
            "/api/admin/plan",
            Some(token),
            text.to_string(),
        )
        .await
    }

    async fn import_staff(&self, token: &str, text: &str) -> (StatusCode, Value) {
        self.send(
            Method::POST,
            "/api/admin/users/import",
            Some(token),
            text.into(),
        )
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_production_workspace_starts_empty_and_takes_an_agencys_plan() {
    let (api, admin) = production().await;
    let (status, body) = api
        .send(Method::GET, "/api/admin/plan", Some(&admin), String::new())
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "no plan to export yet: {body}"
    );

    let (status, body) = api.import(&admin, DISTRICT).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let first: PlanImported = serde_json::from_value(body).unwrap();
    assert_eq!(first.measures_added, 10);
    assert_eq!(first.units_added, 6, "the agency and its five units");

    // The agency took the placeholder's place, with its administrator.
    let db = papi_server::open_database(&api.dir.path().join("data"))
        .await
        .unwrap();
    let units = directory::units(&db).await.unwrap();
    assert!(units.iter().all(|u| u.id != "co-quan"), "{units:?}");
    let admin_user = directory::users(&db).await.unwrap();
    assert_eq!(admin_user[0].unit, "ubnd-huyen-my-xuyen");

    // Exported, the plan reads back as the file; importing it again, or
    // the export, changes nothing.
    let exported = api.export(&admin).await;
    assert_eq!(
        papi::plan_file::parse(&exported).unwrap(),
        papi::plan_file::parse(DISTRICT).unwrap()
    );
    for again in [DISTRICT, exported.as_str()] {
        let (status, body) = api.import(&admin, again).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            serde_json::from_value::<PlanImported>(body).unwrap(),
            PlanImported::default()
        );
    }
    assert_eq!(api.export(&admin).await, exported);

    // A changed plan: one measure gone (retired, kept), one reworded, one new.
    let changed = DISTRICT
        .replace(
            "  - id: h1-2\n    text: Niêm yết công khai kết quả bầu cử trưởng ấp tại nhà văn hóa ấp.\n    units: [phong-noi-vu]\n",
            "",
        )
        .replace("mỗi quý.", "mỗi tháng.")
        .replace(
            "extra_items: []",
            "extra_items: []\n",
        )
        .replace(
            "    units: [phong-tu-phap, xa-dai-tam, xa-tham-don]\n",
            "    units: [phong-tu-phap, xa-dai-tam, xa-tham-don]\n  - id: h5-2\n    text: Trả kết quả thủ tục qua bưu điện.\n    units: [xa-tham-don]\n",
        );
    let (status, body) = api.import(&admin, &changed).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let done: PlanImported = serde_json::from_value(body).unwrap();
    assert_eq!(
        (
            done.measures_added,
            done.measures_changed,
            done.measures_retired
        ),
        (1, 1, 1)
    );
    let after = papi::plan_file::parse(&api.export(&admin).await).unwrap();
    let retired = after.dimensions[0]
        .measures
        .iter()
        .find(|m| m.id == "h1-2")
        .unwrap();
    assert!(
        retired.retired,
        "a measure left out is retired, not deleted"
    );
    assert!(after.dimensions[0].measures[0].text.ends_with("mỗi tháng."));
}

/// The admin page cannot add a second agency (there is one, the top of the
/// tree), and a plan exported after the administrator's edits imports again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_admin_edits_the_exported_plan_imports_again() {
    let (api, admin) = production().await;
    let (status, body) = api.import(&admin, DISTRICT).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let unit = |id: &str, kind: &str| {
        json!({ "id": id, "name": "Đơn vị mới", "kind": kind, "parent": "ubnd-huyen-my-xuyen" })
            .to_string()
    };
    let (status, body) = api
        .send(
            Method::POST,
            "/api/admin/units",
            Some(&admin),
            unit("co-quan-2", "agency"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("agency already"), "{body}");
    let (status, body) = api
        .send(
            Method::POST,
            "/api/admin/units",
            Some(&admin),
            unit("phong-moi", "office"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let exported = api.export(&admin).await;
    assert!(exported.contains("phong-moi"), "{exported}");
    let (status, body) = api.import(&admin, &exported).await;
    assert_eq!(status, StatusCode::OK, "the export imports again: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_file_with_five_errors_reports_them_all_and_imports_nothing() {
    let (api, admin) = production().await;
    let bad = DISTRICT
        .replacen("number: 8", "number: 9", 1)
        .replacen("units: [van-phong]", "units: [phong-khong-co]", 1)
        .replacen("month: 12", "month: 13", 1)
        .replacen("id: h2-1", "id: h1-1", 1)
        .replacen(
            "text: Kiểm tra việc xả thải của các cơ sở chế biến thủy sản trên địa bàn.",
            "text: ''",
            1,
        );
    // Sent as a form may send text, which another site could do with the
    // administrator's cookie, a file is refused unread.
    let (status, _) = api
        .send_as(
            Method::POST,
            "/api/admin/plan",
            Some(&admin),
            DISTRICT,
            "text/plain",
        )
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, body) = api.import(&admin, &bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let problems = body["problems"].as_array().unwrap();
    let all = serde_json::to_string(problems).unwrap();
    for expected in [
        "no dimension 9",
        "there is no unit \\\"phong-khong-co\\\"",
        "13 is not a day",
        "the measure id \\\"h1-1\\\" is repeated",
        "the measure has no text",
    ] {
        assert!(all.contains(expected), "{expected} in {all}");
    }
    assert!(problems
        .iter()
        .all(|p| p["vi"].as_str().is_some_and(|v| !v.is_empty())));
    assert!(problems.iter().all(|p| p["line"].is_u64()), "{all}");
    // Nothing was imported: no plan, and the units are as they were.
    let (status, _) = api
        .send(Method::GET, "/api/admin/plan", Some(&admin), String::new())
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, units) = api
        .send(Method::GET, "/api/admin/units", Some(&admin), String::new())
        .await;
    assert_eq!(units.as_array().unwrap().len(), 1, "{units}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_come_from_a_csv_file_with_one_time_passwords() {
    let (api, admin) = production().await;
    let (status, body) = api.import(&admin, DISTRICT).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let bad = format!("{STAFF}x,,nowhere,chief\nnv.an,Lại Tên,van-phong,staff\n");
    let (status, body) = api.import_staff(&admin, &bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let problems = body["problems"].as_array().unwrap();
    let lines: Vec<u64> = problems.iter().filter_map(|p| p["line"].as_u64()).collect();
    assert!(lines.contains(&5) && lines.contains(&6), "{body}");
    assert_eq!(
        problems.len(),
        5,
        "username, name, unit, role, repeated: {body}"
    );
    let (_, users) = api
        .send(Method::GET, "/api/admin/users", Some(&admin), String::new())
        .await;
    assert_eq!(
        users.as_array().unwrap().len(),
        1,
        "nobody was added: {users}"
    );

    let (status, body) = api.import_staff(&admin, STAFF).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let imported: UsersImported = serde_json::from_value(body).unwrap();
    assert_eq!(imported.created.len(), 3);
    let (status, body) = api.import_staff(&admin, STAFF).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let again: UsersImported = serde_json::from_value(body).unwrap();
    assert_eq!(
        (again.created.len(), again.updated.len(), again.unchanged),
        (0, 0, 3)
    );

    // A password the administrator resets is one-time too, while the user
    // has not chosen their own.
    let (status, body) = api
        .send(
            Method::POST,
            "/api/admin/users/lv.cuong/password",
            Some(&admin),
            String::new(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let reset = body["password"].as_str().unwrap().to_string();
    let first = &imported
        .created
        .iter()
        .find(|p| p.username == "lv.cuong")
        .unwrap()
        .password;
    assert_ne!(&reset, first);
    let one_time = &reset;

    // A one-time password opens nothing but choosing a new one.
    let session = api.sign_in("lv.cuong", one_time).await;
    assert!(session.user.must_change_password);
    assert_eq!(session.user.unit, "xa-dai-tam");
    let (status, _) = api
        .send(
            Method::GET,
            "/api/reports",
            Some(&session.token),
            String::new(),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let change = |current: &str, new: &str| json!({ "current": current, "new": new }).to_string();
    let (status, _) = api
        .send(
            Method::POST,
            "/api/password",
            Some(&session.token),
            change("sai", "mật khẩu mới 1"),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the current password is checked"
    );
    let (status, body) = api
        .send(
            Method::POST,
            "/api/password",
            Some(&session.token),
            change(one_time, "mật khẩu mới 1"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let fresh: Session = serde_json::from_value(body).unwrap();
    assert!(!fresh.user.must_change_password);
    let (status, _) = api
        .send(
            Method::GET,
            "/api/reports",
            Some(&fresh.token),
            String::new(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api
        .send(Method::GET, "/api/me", Some(&session.token), String::new())
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the one-time session ended"
    );
    drop(api.state);
}

//! Managing the directory from the server binary's command line: what an
//! administrator does on a new production server.

use std::process::Output;

use papi_e2e::{server_command as run, workspace_root};

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn an_admin_creates_users_and_resets_passwords() {
    let data = tempfile::tempdir().unwrap();
    let units = run(data.path(), &["units"], None);
    assert!(units.status.success());
    assert_eq!(stdout(&units), "", "a new data directory has no units");
    let demo = workspace_root().join("server/seed/demo-plan.yaml");
    let imported = run(data.path(), &["import-plan", demo.to_str().unwrap()], None);
    assert!(imported.status.success(), "{imported:?}");
    let units = run(data.path(), &["units"], None);
    assert!(stdout(&units).contains("phong-ngan-sach\tdivision\tso-tai-chinh"));

    let admin = run(data.path(), &["create-admin", "quantri"], None);
    assert!(admin.status.success(), "{admin:?}");
    let text = stdout(&admin);
    let password = text
        .lines()
        .find_map(|l| l.strip_prefix("Password: "))
        .expect("a generated password is shown once");
    assert_eq!(password.len(), 16);

    let add = run(
        data.path(),
        &[
            "add-user",
            "an.nguyen",
            "--name",
            "Nguyễn Văn An",
            "--unit",
            "phong-ngan-sach",
            "--role",
            "unit_lead",
            "--password-stdin",
        ],
        Some("mật khẩu của An\n"),
    );
    assert!(add.status.success(), "{add:?}");
    assert!(
        !stdout(&add).contains("mật khẩu"),
        "a password given on stdin is not echoed"
    );

    let users = stdout(&run(data.path(), &["users"], None));
    assert!(
        users.contains("an.nguyen\tunit_lead\tphong-ngan-sach\tNguyễn Văn An"),
        "{users}"
    );
    assert!(users.contains("quantri\tadmin\tso-tai-chinh"), "{users}");

    let reset = run(data.path(), &["reset-password", "an.nguyen"], None);
    assert!(reset.status.success());
    assert!(stdout(&reset).contains("Password: "));
}

#[test]
fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let data = tempfile::tempdir().unwrap();
    let words = |line: &'static str| line.split(' ').collect::<Vec<_>>();
    let mut spaced = words("add-user _ --name X --unit van-phong --role staff");
    spaced[1] = "x y";
    for (args, expected) in [
        (
            words("add-user x.y --name X --unit nowhere --role staff"),
            "no unit",
        ),
        (
            words("add-user x.y --name X --unit van-phong --role boss"),
            "unknown role",
        ),
        (spaced, "username"),
        (words("reset-password nobody"), "no user"),
    ] {
        let out = run(data.path(), &args, None);
        assert!(!out.status.success(), "{args:?} must fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    let short = run(
        data.path(),
        &[
            "add-user",
            "x.y",
            "--name",
            "X",
            "--unit",
            "van-phong",
            "--role",
            "staff",
            "--password-stdin",
        ],
        Some("short\n"),
    );
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 8"));
    assert_eq!(
        stdout(&run(data.path(), &["users"], None)),
        "",
        "nothing was added"
    );
}

//! Option resolution: precedence, config.toml, URL rules, usage errors.

use crate::common;

use common::{stderr, stdout, Env, ADELE};

#[test]
fn http_is_refused_for_hosts_that_are_not_loopback() {
    let env = Env::start();
    for (option, url) in [
        ("--graph-url", "http://graph.microsoft.com/v1.0"),
        ("--login-url", "http://login.example.com"),
        ("--graph-url", "http://192.168.1.10/v1.0"),
    ] {
        let out = env.bare_cmd(&["whoami", option, url]).output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with(&format!("graphwatch: {option} ")), "{err}");
        assert!(err.contains("https://"), "{err}");
    }
}

#[test]
fn malformed_config_file_exits_2_naming_file_and_line() {
    let env = Env::start();
    let path = env.config_dir().join("config.toml");
    std::fs::write(&path, "tenant = \"contoso\"\noutput = json\n").unwrap();
    let out = env.cmd(&["whoami"]).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(&format!("{}:2:", path.display())), "{err}");

    std::fs::write(&path, "tennant = \"contoso\"\n").unwrap();
    let out = env.cmd(&["whoami"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("tennant"), "{}", stderr(&out));
}

#[test]
fn precedence_is_flag_then_env_then_file_then_default() {
    let env = Env::start();
    let token = env.mint(ADELE);
    // The file says pretty; the environment says json; the flag says pretty.
    std::fs::write(
        env.config_dir().join("config.toml"),
        "output = \"pretty\"\nprofile = \"from-file\"\n",
    )
    .unwrap();
    let run = |extra_env: &[(&str, &str)], args: &[&str]| {
        let mut cmd = env.cmd(&["endpoint", "--drive", "me"]);
        cmd.env("GRAPHWATCH_ACCESS_TOKEN", &token).args(args);
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out).lines().count()
    };
    assert!(run(&[], &[]) > 1, "config.toml: pretty");
    assert_eq!(
        run(&[("GRAPHWATCH_OUTPUT", "json")], &[]),
        1,
        "env beats file"
    );
    assert!(
        run(&[("GRAPHWATCH_OUTPUT", "json")], &["-o", "pretty"]) > 1,
        "flag beats env"
    );

    // The profile from the file is used when neither flag nor env names one.
    let out = env.cmd(&["whoami"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("profile from-file"),
        "{}",
        stderr(&out)
    );
    let out = env
        .cmd(&["whoami"])
        .env("GRAPHWATCH_PROFILE", "from-env")
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("profile from-env"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn graph_url_from_the_config_file_is_used() {
    let env = Env::start();
    let token = env.mint(ADELE);
    std::fs::write(
        env.config_dir().join("config.toml"),
        format!("graph_url = \"{}/v1.0\"\n", env.base),
    )
    .unwrap();
    // No --graph-url here: only the file says where Graph is.
    let out = env
        .bare_cmd(&["whoami", "-o", "json"])
        .env("GRAPHWATCH_ACCESS_TOKEN", &token)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(ADELE));
}

#[test]
fn usage_errors_from_clap_exit_2() {
    let env = Env::start();
    let out = env.std_cmd(&["endpoint"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = env
        .std_cmd(&["endpoint", "--drive", "me", "--list", "a/b"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = env.std_cmd(&["whoami", "-o", "yaml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = env.std_cmd(&["--help"]).output().unwrap();
    assert!(out.status.success());
    assert!(stdout(&out).contains("Precedence"));
}

//! The `ferry-plan` binary as Lambda runs it: its `main.rs` (ferry-core's `lambda::serve`) against
//! a Lambda Runtime API served here on 127.0.0.1. The sandbox's function host calls `handle`
//! directly, so this is what checks the binaries' own loop: the configuration read from the
//! environment, an event taken from `/next`, a ferry error posted to `/error` with its name as
//! `errorType` (what the state machine's Retry and Catch match), and a bad configuration failing
//! the init by name.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// One request the binary sent: method, path and body.
#[derive(Debug)]
struct Sent {
    method: String,
    path: String,
    body: String,
}

/// A Runtime API that hands out `event` once (a second `/next` is left waiting, as Lambda does
/// between invocations) and reports every other request on the channel.
fn runtime_api(event: String) -> (String, mpsc::Receiver<Sent>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut handed_out = false;
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let tx = tx.clone();
            let first = !handed_out;
            handed_out = true;
            let event = event.clone();
            std::thread::spawn(move || serve(stream, first.then_some(event), tx));
        }
    });
    (address, rx)
}

/// Serves one keep-alive connection.
fn serve(stream: TcpStream, mut event: Option<String>, tx: mpsc::Sender<Sent>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or_default().to_string(),
            parts.next().unwrap_or_default().to_string(),
        );
        let mut length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            if header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap();
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        if path.ends_with("/invocation/next") {
            let Some(e) = event.take() else {
                // The next invocation never comes: the test ends first.
                std::thread::sleep(Duration::from_secs(3600));
                return;
            };
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: request-1\r\nLambda-Runtime-Deadline-Ms: 4102444800000\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:eu-west-1:222222222222:function:ferry-plan\r\nLambda-Runtime-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793\r\nContent-Length: {}\r\n\r\n{e}",
                e.len()
            );
            out.write_all(response.as_bytes()).unwrap();
            continue;
        }
        let _ = tx.send(Sent {
            method,
            path,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        out.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}")
            .unwrap();
    }
}

/// The destination stack's environment (the fixture stack's), as the template sets it.
fn stack_env(cmd: &mut Command) -> &mut Command {
    cmd.env("FERRY_ACCOUNT_ID", "222222222222")
        .env("AWS_REGION", "eu-west-1")
        .env("FERRY_BUCKET", "ferry-222222222222-eu-west-1")
        .env("FERRY_SOURCE_ACCOUNT_IDS", "111111111111")
        .env("FERRY_SOURCE_BUCKETS", "src-photos,src-manifests")
        .env("FERRY_DESTINATION_BUCKETS", "dst-photos")
        .env("FERRY_MANIFEST_BUCKETS", "dst-manifests")
        .env(
            "FERRY_BOUNDARY_ARN",
            "arn:aws:iam::222222222222:policy/ferry/ferry-boundary-eu-west-1",
        )
        // No AWS call is made; credentials keep the SDK from looking further.
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
}

/// Kills the child when the test ends, passed or failed.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn an_invalid_request_is_posted_back_as_invalid_request() {
    let mut request: serde_json::Value =
        serde_json::from_str(include_str!("../../../shared/fixtures/request-csv.json")).unwrap();
    request["destination"]["bucket"] = "prod-database-backups".into();
    let event = serde_json::json!({
        "request": request,
        "execution": "photos-2026-1",
        "startTime": "2026-11-28T13:45:50Z",
    })
    .to_string();
    let (address, sent) = runtime_api(event);
    let child = stack_env(&mut Command::new(env!("CARGO_BIN_EXE_ferry-plan")))
        .env("AWS_LAMBDA_RUNTIME_API", &address)
        .env("AWS_LAMBDA_FUNCTION_NAME", "ferry-plan")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "test")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _child = Killed(child);
    let answer = sent
        .recv_timeout(Duration::from_secs(60))
        .expect("the binary answers its invocation within 60 s");
    assert_eq!(answer.method, "POST");
    assert_eq!(
        answer.path,
        "/2018-06-01/runtime/invocation/request-1/error"
    );
    let error: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(error["errorType"], "InvalidRequest", "{error}");
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap()
            .contains("destination.bucket: prod-database-backups is not in the destination stack's DestinationBuckets parameter"),
        "{error}"
    );
}

#[test]
fn a_missing_variable_fails_the_init_by_name() {
    let out = stack_env(&mut Command::new(env!("CARGO_BIN_EXE_ferry-plan")))
        .env_remove("FERRY_BUCKET")
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("FERRY_BUCKET"), "{stderr}");
}

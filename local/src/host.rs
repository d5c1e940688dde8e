//! The Lambda Invoke API (`POST /2015-03-31/functions/{name}/invocations`) for every ferry
//! function, served in-process on a free 127.0.0.1 port. Each function calls AWS as a session of
//! its own execution role from the template (the launcher created the role and the session), so
//! the sandbox authorizes every call it makes against that role's policies; it gets the
//! environment the template gives it (as the launcher resolved them). A call
//! from another account than the function's is refused, as Lambda refuses it without a
//! resource policy: that is how the sandbox shows a Task that forgot its `Credentials`.
//! A handler's error is answered the way Lambda answers it (`X-Amz-Function-Error: Unhandled`
//! and `{"errorType", "errorMessage"}`), so Retry and Catch see ferry's error names.

use std::collections::BTreeMap;
use std::sync::Arc;

use ferry_core::{clients::Clients, stack::StackConfig, ErrorName, StepError};
use lambda_runtime::{Context, LambdaEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tracing::warn;

use crate::sandbox::SandboxInfo;

struct Hosted {
    arn: String,
    binary: String,
    account: String,
    clients: Clients,
    config: StackConfig,
}

/// The running host; stops when dropped.
pub struct FunctionHost {
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FunctionHost {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FunctionHost {
    /// Hosts every function of every stack of the sandbox, by ARN (how the state machines and
    /// the launcher invoke them: one name is deployed in several accounts).
    pub async fn start(info: &SandboxInfo) -> std::io::Result<FunctionHost> {
        let mut functions = BTreeMap::new();
        for (arn, f) in &info.functions {
            // As on Lambda: the environment, and the lists from SSM as the function's role.
            let sdk = info.sdk_config_as(&f.credentials);
            let config = ferry_core::parameters::load_for(&sdk, |n| f.environment.get(n).cloned())
                .await
                .map_err(|e| std::io::Error::other(format!("{arn}: {e}")))?;
            let hosted = Hosted {
                arn: arn.clone(),
                binary: f.binary.clone(),
                account: f.account.clone(),
                clients: Clients::new(&sdk),
                config,
            };
            functions.insert(arn.clone(), Arc::new(hosted));
        }
        let functions = Arc::new(functions);
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let functions = functions.clone();
                tokio::spawn(async move {
                    if let Err(e) = serve(stream, &functions).await {
                        warn!(error = %e, "function host: a connection failed");
                    }
                });
            }
        });
        Ok(FunctionHost { url, task })
    }
}

struct Request {
    path: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

async fn read_request(stream: &mut TcpStream) -> std::io::Result<Option<Request>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.lines();
    let path = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("")
        .to_string();
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(Some(Request {
        path,
        headers,
        body,
    }))
}

async fn serve(
    mut stream: TcpStream,
    functions: &BTreeMap<String, Arc<Hosted>>,
) -> std::io::Result<()> {
    while let Some(req) = read_request(&mut stream).await? {
        let (status, extra, body) = answer(&req, functions).await;
        let mut head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nX-Amz-Executed-Version: $LATEST\r\n",
            body.len()
        );
        for (k, v) in extra {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(&body).await?;
    }
    Ok(())
}

async fn answer(
    req: &Request,
    functions: &BTreeMap<String, Arc<Hosted>>,
) -> (&'static str, Vec<(&'static str, String)>, Vec<u8>) {
    let name = req
        .path
        .strip_prefix("/2015-03-31/functions/")
        .and_then(|p| p.split('/').next())
        .map(|p| {
            percent_encoding::percent_decode_str(p)
                .decode_utf8_lossy()
                .into_owned()
        })
        .unwrap_or_default();
    let Some(f) = functions.get(&name) else {
        let body =
            serde_json::json!({"Type": "User", "message": format!("Function not found: {name}")});
        return (
            "404 Not Found",
            vec![("X-Amzn-ErrorType", "ResourceNotFoundException".into())],
            body.to_string().into_bytes(),
        );
    };
    let caller = req
        .headers
        .get("x-ferry-caller-account")
        .cloned()
        .unwrap_or_default();
    if caller != f.account {
        let body = serde_json::json!({
            "Type": "User",
            "message": format!("account {caller} is not authorized to invoke {name} in account {}", f.account)
        });
        return (
            "403 Forbidden",
            vec![("X-Amzn-ErrorType", "AccessDeniedException".into())],
            body.to_string().into_bytes(),
        );
    }
    match invoke(f, &req.body).await {
        Ok(body) => ("200 OK", vec![], body),
        Err((error_type, message)) => {
            let body = serde_json::json!({"errorType": error_type, "errorMessage": message});
            (
                "200 OK",
                vec![("X-Amz-Function-Error", "Unhandled".into())],
                body.to_string().into_bytes(),
            )
        }
    }
}

macro_rules! call {
    ($handler:path, $f:expr, $payload:expr) => {{
        let input = serde_json::from_slice($payload).map_err(|e| {
            (
                "Runtime.UnmarshalError".to_string(),
                format!("the payload is not this function's input: {e}"),
            )
        })?;
        let out = $handler(
            &$f.clients,
            &$f.config,
            LambdaEvent::new(input, {
                // As Lambda fills it: the ARN the caller invoked.
                let mut ctx = Context::default();
                ctx.invoked_function_arn = $f.arn.clone();
                ctx
            }),
        )
        .await
        .map_err(|e: StepError| {
            // As the runtime reports it (the same conversion as every function's main.rs).
            let d = lambda_runtime::Diagnostic::from(
                e.in_step($f.binary.strip_prefix("ferry-").unwrap_or(&$f.binary)),
            );
            (d.error_type, d.error_message)
        })?;
        Ok(serde_json::to_vec(&out).expect("a handler's output serializes"))
    }};
}

async fn invoke(f: &Hosted, payload: &[u8]) -> Result<Vec<u8>, (String, String)> {
    match f.binary.as_str() {
        "ferry-plan" => call!(ferry_plan::handle, f, payload),
        "ferry-destination-access" => call!(ferry_destination_access::handle, f, payload),
        "ferry-source-access" => call!(ferry_source_access::handle, f, payload),
        "ferry-job-submit" => call!(ferry_job_submit::handle, f, payload),
        "ferry-job-track" => call!(ferry_job_track::handle, f, payload),
        "ferry-job-report" => call!(ferry_job_report::handle, f, payload),
        "ferry-source-inventory" => call!(ferry_source_inventory::handle, f, payload),
        "ferry-inventory-wait" => call!(ferry_inventory_wait::handle, f, payload),
        "ferry-inventory-delivered" => call!(ferry_inventory_delivered::handle, f, payload),
        "ferry-cleanup-start" => call!(ferry_cleanup_start::handle, f, payload),
        "ferry-copy-worker" => call!(ferry_copy_worker::handle, f, payload),
        other => Err((
            ErrorName::NotFound.to_string(),
            format!("the function host has no handler for {other}: add it to local/src/host.rs"),
        )),
    }
}

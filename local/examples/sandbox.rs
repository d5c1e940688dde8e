//! `make sandbox`: the two-account sandbox and the function host, until Ctrl-C, with the shell
//! variables that point the AWS CLI at either account.

use ferry_local::scenario::Scenario;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let scenario = Scenario::start(&root, 4 * 3600).await?;
    let (sandbox, info) = (&scenario.sandbox, &scenario.sandbox.info);
    // The `ferry` CLI's --sandbox reads this description (FERRY_SANDBOX).
    let description = root.join("target/sandbox/current.json");
    std::fs::write(&description, serde_json::to_string(info)?)?;
    println!(
        "ferry sandbox: moto at {}, Region {}",
        info.endpoint, info.region
    );
    println!("  state machine {}", info.state_machine_arn);
    println!(
        "  control API   {} (POST /failures, /failures/clear, /hold, /sizes, /copy-limit, /part-copy-faults, /lambda-redrives, /inventory, /schedule, /context, /denials/clear; GET /jobs, /inventory, /part-copy-faults, /denials)",
        info.control
    );
    println!("  launcher log  {}", sandbox.log.display());
    for (side, account) in &info.accounts {
        let c = &info.credentials[side];
        println!("\n# {side} account {account}:");
        println!(
            "export AWS_ENDPOINT_URL={} AWS_REGION={} AWS_DEFAULT_REGION={}",
            info.endpoint, info.region, info.region
        );
        println!(
            "export AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={} AWS_SESSION_TOKEN={}",
            c.access_key_id, c.secret_access_key, c.session_token
        );
    }
    println!(
        "\n# the ferry CLI (cargo build -p ferry-cli; target/debug/ferry list, start, watch ...):"
    );
    println!(
        "export FERRY_SANDBOX={}",
        description.canonicalize()?.display()
    );
    println!("\nCtrl-C stops the sandbox.");
    tokio::signal::ctrl_c().await?;
    let _ = std::fs::remove_file(&description);
    Ok(())
}

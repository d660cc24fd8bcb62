//! `prospector admin create-user|set-password|disable|list-users`

use std::{io::BufRead, process::ExitCode};

use anyhow::Context;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

use crate::{
    cli::AdminCommand,
    config::Settings,
    console::{Role, users},
    db,
};

pub async fn run(settings: Settings, command: AdminCommand) -> anyhow::Result<ExitCode> {
    let pool = db::connect(&settings.database).await?;
    match command {
        AdminCommand::CreateUser {
            email,
            role,
            name,
            generate_password,
        } => {
            let role: Role = role.parse()?;
            let password = password(generate_password)?;
            let id = users::create(&pool, &email, name.as_deref(), role, password.clone()).await?;
            println!(
                "created {role} account {} ({id})",
                users::normalise_email(&email)?
            );
            if generate_password {
                println!("password: {password}");
            }
        }
        AdminCommand::SetPassword {
            email,
            generate_password,
        } => {
            let password = password(generate_password)?;
            users::set_password(&pool, &email, password.clone()).await?;
            println!(
                "password set for {}; its sessions and API tokens were ended",
                users::normalise_email(&email)?
            );
            if generate_password {
                println!("password: {password}");
            }
        }
        AdminCommand::Disable { email } => {
            users::disable(&pool, &email).await?;
            println!(
                "disabled {}; its sessions and API tokens stopped working",
                users::normalise_email(&email)?
            );
        }
        AdminCommand::ListUsers => {
            let mut table = Table::new();
            table.load_preset(UTF8_FULL_CONDENSED).set_header([
                "e-mail",
                "name",
                "role",
                "active",
                "last sign-in",
            ]);
            for a in users::list(&pool).await? {
                table.add_row([
                    a.email,
                    a.full_name.unwrap_or_default(),
                    a.role.to_string(),
                    if a.is_active { "yes" } else { "no" }.to_owned(),
                    a.last_login_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                ]);
            }
            println!("{table}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A made-up password (20 URL-safe characters, about 120 bits), or the
/// first line of standard input.
fn password(generate: bool) -> anyhow::Result<String> {
    if generate {
        return Ok(crate::console::generated_password());
    }
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        eprintln!("password (one line; it is shown as you type, pipe it in to avoid that):");
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    anyhow::ensure!(
        !password.is_empty(),
        "no password on standard input (or use --generate-password)"
    );
    Ok(password)
}

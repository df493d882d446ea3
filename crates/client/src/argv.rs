//! PowerShell-style command lines: `Update-MSCommerceProductPolicy -PolicyId X -ProductId Y -Value
//! "Disabled"` becomes `update-product-policy --policy-id X --product-id Y --value Disabled`.
//! Command and parameter names are matched case-insensitively, ignoring dashes, against the clap
//! definition itself, so the two never drift apart.

use std::collections::HashMap;
use std::ffi::OsString;

/// A name with case and dashes taken away: `-PolicyId`, `--policy-id` and `policyid` meet here.
fn squash(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

struct Names {
    /// squashed parameter name → (long name, takes a value)
    params: HashMap<String, (String, bool)>,
    /// short flag → takes a value
    shorts: HashMap<char, bool>,
    /// squashed command name or alias → command name
    commands: HashMap<String, String>,
}

fn collect_names(cmd: &clap::Command) -> Names {
    let mut names = Names {
        params: HashMap::new(),
        shorts: HashMap::new(),
        commands: HashMap::new(),
    };
    let add_args = |c: &clap::Command, names: &mut Names| {
        for arg in c.get_arguments() {
            if let Some(short) = arg.get_short() {
                names.shorts.insert(short, arg.get_action().takes_values());
            }
            if let Some(long) = arg.get_long() {
                let takes_value = arg.get_action().takes_values();
                names
                    .params
                    .entry(squash(long))
                    .or_insert((long.to_string(), takes_value));
                for alias in arg.get_all_aliases().unwrap_or_default() {
                    names
                        .params
                        .entry(squash(alias))
                        .or_insert((long.to_string(), takes_value));
                }
            }
        }
    };
    add_args(cmd, &mut names);
    for sub in cmd.get_subcommands() {
        add_args(sub, &mut names);
        let name = sub.get_name().to_string();
        names.commands.insert(squash(&name), name.clone());
        for alias in sub.get_all_aliases() {
            names.commands.insert(squash(alias), name.clone());
        }
    }
    // Parameters of nested commands (`admin user create --upn`) are known too; the top level's
    // meaning of a name wins.
    let mut nested: Vec<&clap::Command> = cmd
        .get_subcommands()
        .flat_map(|s| s.get_subcommands())
        .collect();
    while let Some(c) = nested.pop() {
        add_args(c, &mut names);
        nested.extend(c.get_subcommands());
    }
    names
}

fn looks_like_number(s: &str) -> bool {
    s.strip_prefix('-')
        .is_some_and(|rest| rest.chars().next().is_some_and(|c| c.is_ascii_digit()))
}

/// Rewrites PowerShell-style arguments into the clap spelling. Arguments it does not recognise
/// are left alone, so clap reports them with its usual help.
pub fn normalize(cmd: &clap::Command, args: Vec<OsString>) -> Vec<OsString> {
    let names = collect_names(cmd);
    let mut out = Vec::with_capacity(args.len());
    let mut iter = args.into_iter();
    if let Some(arg0) = iter.next() {
        out.push(arg0);
    }
    let mut command_seen = false;
    let mut value_expected = false;
    let mut passthrough = false;
    for arg in iter {
        let Some(text) = arg.to_str().map(str::to_string) else {
            out.push(arg);
            continue;
        };
        if passthrough || value_expected {
            value_expected = false;
            out.push(arg);
            continue;
        }
        if text == "--" {
            passthrough = true;
            out.push(arg);
            continue;
        }
        if text.starts_with('-') && text.len() > 2 && !looks_like_number(&text) {
            let body = text.trim_start_matches('-');
            // PowerShell's `-Name:value`, and the usual `--name=value`.
            let (name, inline) = match body.find([':', '=']) {
                Some(i) => (&body[..i], Some(&body[i + 1..])),
                None => (body, None),
            };
            let squashed = squash(name);
            // `-Confirm:$false` is PowerShell for "do not ask".
            if squashed == "confirm" {
                let no = inline
                    .is_some_and(|v| matches!(squash(v).trim_start_matches('$'), "false" | "0"));
                if no {
                    out.push("--yes".into());
                }
                continue;
            }
            if let Some((long, takes_value)) = names.params.get(&squashed) {
                match inline {
                    Some(v) => out.push(format!("--{long}={v}").into()),
                    None => {
                        out.push(format!("--{long}").into());
                        value_expected = *takes_value;
                    }
                }
                continue;
            }
            out.push(arg);
            continue;
        }
        if let Some(short) = text
            .strip_prefix('-')
            .filter(|s| s.chars().count() == 1)
            .and_then(|s| s.chars().next())
        {
            value_expected = names.shorts.get(&short).copied().unwrap_or(false);
            out.push(arg);
            continue;
        }
        if !command_seen && !text.starts_with('-') {
            command_seen = true;
            if let Some(name) = names.commands.get(&squash(&text)) {
                out.push(name.into());
                continue;
            }
        }
        out.push(arg);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, ArgAction, Command};

    fn cmd() -> Command {
        Command::new("mscommerce")
            .arg(Arg::new("output").long("output").short('o').global(true))
            .subcommand(
                Command::new("update-product-policy")
                    .alias("Update-MSCommerceProductPolicy")
                    .arg(Arg::new("policy-id").long("policy-id"))
                    .arg(Arg::new("product-id").long("product-id").num_args(1..))
                    .arg(Arg::new("value").long("value"))
                    .arg(
                        Arg::new("what-if")
                            .long("what-if")
                            .action(ArgAction::SetTrue),
                    )
                    .arg(Arg::new("yes").long("yes").action(ArgAction::SetTrue)),
            )
    }

    fn run(line: &[&str]) -> Vec<String> {
        let args = std::iter::once("mscommerce")
            .chain(line.iter().copied())
            .map(OsString::from)
            .collect();
        normalize(&cmd(), args)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn cmdlet_line_becomes_the_clap_line() {
        assert_eq!(
            run(&[
                "Update-MSCommerceProductPolicy",
                "-PolicyId",
                "AllowSelfServicePurchase",
                "-ProductId",
                "CFQ7TTC0LH3L",
                "-Value",
                "Disabled"
            ]),
            [
                "mscommerce",
                "update-product-policy",
                "--policy-id",
                "AllowSelfServicePurchase",
                "--product-id",
                "CFQ7TTC0LH3L",
                "--value",
                "Disabled"
            ]
        );
    }

    #[test]
    fn names_are_case_insensitive() {
        assert_eq!(
            run(&[
                "update-mscommerceproductpolicy",
                "-POLICYID",
                "x",
                "--Product-Id",
                "y",
                "-whatif"
            ]),
            [
                "mscommerce",
                "update-product-policy",
                "--policy-id",
                "x",
                "--product-id",
                "y",
                "--what-if"
            ]
        );
    }

    #[test]
    fn powershell_colon_syntax_and_confirm() {
        assert_eq!(
            run(&[
                "update-product-policy",
                "-Value:Disabled",
                "-Confirm:$false"
            ]),
            [
                "mscommerce",
                "update-product-policy",
                "--value=Disabled",
                "--yes"
            ]
        );
        assert_eq!(
            run(&["update-product-policy", "-Confirm"]),
            ["mscommerce", "update-product-policy"]
        );
    }

    #[test]
    fn values_are_never_rewritten() {
        // A value that looks like a parameter stays a value.
        assert_eq!(
            run(&["update-product-policy", "-Value", "-PolicyId"]),
            [
                "mscommerce",
                "update-product-policy",
                "--value",
                "-PolicyId"
            ]
        );
        assert_eq!(
            run(&["update-product-policy", "--", "-Value"]),
            ["mscommerce", "update-product-policy", "--", "-Value"]
        );
    }

    #[test]
    fn unknown_names_are_left_for_clap_to_report() {
        assert_eq!(
            run(&["update-product-policy", "-Bogus"]),
            ["mscommerce", "update-product-policy", "-Bogus"]
        );
        assert_eq!(
            run(&["-o", "json", "Update-MSCommerceProductPolicy"]),
            ["mscommerce", "-o", "json", "update-product-policy"]
        );
    }
}

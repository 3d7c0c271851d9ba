//! `borderflow refdata`: look codes up in the code lists (with any overrides applied), check
//! override files, and export the embedded tables to start an override from.

use std::path::PathBuf;

use anyhow::{Context, Result};
use borderflow_core::CountryCode;
use borderflow_refdata::{GlobalSouth, Overrides, PlmnCountry, RefData, embedded_tables};

/// Arguments of `borderflow refdata`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Resolve PLMNs (5–6 digits), phone numbers (+… or 00…) and countries (alpha-3).
    Lookup {
        #[command(flatten)]
        overrides: OverrideArgs,
        /// What to look up, e.g. 63902 +12425550100 KEN.
        #[arg(required = true)]
        query: Vec<String>,
    },
    /// Load the code lists with the given overrides and report what they hold, or the first
    /// error (file and line).
    Check {
        #[command(flatten)]
        overrides: OverrideArgs,
    },
    /// Write the embedded tables as CSV files into a directory (never overwriting).
    Export {
        /// Directory to write into.
        dir: PathBuf,
    },
}

/// User CSVs amending the embedded code lists (same columns; rows with the same key replace).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OverrideArgs {
    /// Amends countries.csv.
    #[arg(long, value_name = "CSV")]
    countries: Option<PathBuf>,
    /// Amends plmn.csv (mcc,mnc,alpha3).
    #[arg(long, value_name = "CSV")]
    plmn: Option<PathBuf>,
    /// Amends e164.csv (prefix,alpha3).
    #[arg(long, value_name = "CSV")]
    calling_codes: Option<PathBuf>,
    /// Amends income_groups.csv (alpha3,income_group,vintage).
    #[arg(long, value_name = "CSV")]
    income_groups: Option<PathBuf>,
    /// Amends hdi_groups.csv (alpha3,hdi_group,vintage).
    #[arg(long, value_name = "CSV")]
    hdi_groups: Option<PathBuf>,
    /// Amends timezones.csv (alpha3,time_zone).
    #[arg(long, value_name = "CSV")]
    time_zones: Option<PathBuf>,
}

impl OverrideArgs {
    fn load(self) -> Result<RefData> {
        Ok(RefData::load(&Overrides {
            countries: self.countries,
            plmn: self.plmn,
            calling_codes: self.calling_codes,
            income_groups: self.income_groups,
            hdi_groups: self.hdi_groups,
            time_zones: self.time_zones,
        })?)
    }
}

/// Runs a `refdata` subcommand.
pub fn run(args: Args) -> Result<()> {
    match args.command {
        Command::Lookup { overrides, query } => {
            let rd = overrides.load()?;
            for q in &query {
                println!("{}", lookup(&rd, q)?);
            }
        }
        Command::Check { overrides } => {
            let rd = overrides.load()?;
            println!(
                "code lists ok: {} countries; embedded tables amended by the files given",
                rd.countries.len()
            );
        }
        Command::Export { dir } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            for (name, _) in embedded_tables() {
                let path = dir.join(name);
                if path.exists() {
                    return Err(crate::exit::usage(format!(
                        "{} already exists; refusing to overwrite",
                        path.display()
                    )));
                }
            }
            for (name, text) in embedded_tables() {
                let path = dir.join(name);
                std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
                println!("wrote {}", path.display());
            }
        }
    }
    Ok(())
}

fn lookup(rd: &RefData, q: &str) -> Result<String> {
    let q = q.trim();
    if q.starts_with('+') || q.starts_with("00") {
        return Ok(match rd.calling_codes.country_of(q) {
            Some(c) => format!("{q}\tnumber\t{c}\t{}", name(rd, c)),
            None => {
                format!("{q}\tnumber\tunknown (non-geographic, shared, unassigned or malformed)")
            }
        });
    }
    if q.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(match rd.plmn.country_of_str(q)? {
            PlmnCountry::Country(c) => format!("{q}\tplmn\t{c}\t{}", name(rd, c)),
            PlmnCountry::NonGeographic => format!("{q}\tplmn\tunknown (non-geographic or shared)"),
            PlmnCountry::Unlisted => {
                format!("{q}\tplmn\tunlisted MCC (quarantined as unknown_plmn)")
            }
        });
    }
    let c: CountryCode = q.to_ascii_uppercase().parse()?;
    let Some(country) = rd.countries.get(c) else {
        return Err(crate::exit::usage(format!(
            "{c} is not in the country list"
        )));
    };
    let income = rd
        .income_groups
        .of(c)
        .map_or("unclassified".to_string(), |(g, v)| {
            format!("{} ({v})", g.code())
        });
    let hdi = rd
        .hdi_groups
        .of(c)
        .map_or("unranked".to_string(), |(g, v)| {
            format!("{} ({v})", g.code())
        });
    let south: Vec<String> = GlobalSouth::ALL
        .into_iter()
        .map(|d| {
            let side = rd
                .global_south(c, d)
                .map_or("unclassified".into(), |s| s.to_string());
            format!("{}={side}", d.code())
        })
        .collect();
    let region = [
        &country.region,
        &country.sub_region,
        &country.intermediate_region,
    ]
    .into_iter()
    .filter(|s| !s.is_empty())
    .map(String::as_str)
    .collect::<Vec<_>>()
    .join(" / ");
    let tz = rd
        .time_zones
        .of(c)
        .map_or("none".into(), |z| z.name().to_string());
    Ok(format!(
        "{c}\tcountry\t{}\t{region}\tincome {income}\thdi {hdi}\t{}\ttz {tz}",
        country.name,
        south.join(" ")
    ))
}

fn name(rd: &RefData, c: CountryCode) -> &str {
    rd.countries.get(c).map_or("", |x| x.name.as_str())
}

//! `borderflow generate`: a synthetic world with ground truth.

use std::path::PathBuf;

use anyhow::{Context, Result};
use borderflow_refdata::RefData;
use borderflow_synth::{OutputFormats, Scenario, generate};

/// Arguments of `borderflow generate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory to write events, truth and the resolved scenario into.
    #[arg(long, required_unless_present = "print_scenario")]
    out: Option<PathBuf>,
    /// Scenario file (TOML); fields it leaves out keep the built-in values.
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// Number of SIMs (overrides the scenario).
    #[arg(long)]
    subscribers: Option<u32>,
    /// Days in the world, at least 365 (overrides the scenario).
    #[arg(long)]
    days: Option<u32>,
    /// Seed; the same seed gives byte-identical files (overrides the scenario).
    #[arg(long)]
    seed: Option<u64>,
    /// Which event files to write.
    #[arg(long, value_enum, default_value = "both")]
    format: Format,
    /// Also write the world in a layout offices already hold, with the faults real exports
    /// carry (rows with no id or time, malformed times, duplicates, garbage networks):
    /// `multimno-bronze` (folders `mno_events/year=/month=/day=`) or `flowkit-calls`
    /// (`flowkit/calls.csv`, the operator's own SIMs' domestic calls, and beside it
    /// `flowkit/canonical.csv`, the same rows in the canonical schema).
    #[arg(long, value_enum)]
    layout: Option<Layout>,
    /// Generate one country measured by several operators instead, with truth in persons:
    /// each operator's network and market share (`63902=0.6,63903=0.3,63907=0.1`). Each
    /// operator's records and SIM truth go to `OUT/<plmn>/`, the persons' truth to
    /// `OUT/persons.csv`; the scenario's subscribers are persons.
    #[arg(long, value_name = "PLMN=SHARE,…", conflicts_with = "layout")]
    operators: Option<String>,
    /// With --operators: the share of persons with a domestic SIM who hold a second one at
    /// another operator.
    #[arg(long, default_value_t = 0.1, requires = "operators")]
    second_sim_share: f64,
    /// Also write `OUT/roaming-in.parquet`: the records of another generated country's world
    /// (its directory, with `events.parquet`) of its SIMs served by this country's networks,
    /// as this country's operators hold them. Give it to this country's pipeline beside
    /// `events.parquet`, and the two countries see the same travellers from both ends (for
    /// `borderflow mirror`).
    #[arg(long, value_name = "WORLD_DIR", conflicts_with = "operators")]
    roaming_from: Option<PathBuf>,
    /// Print the built-in scenario (a commented template) and exit.
    #[arg(long)]
    print_scenario: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Layout {
    MultimnoBronze,
    FlowkitCalls,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    Csv,
    Parquet,
    Both,
}

/// Generates the world and prints what it holds.
pub fn run(args: Args) -> Result<()> {
    if args.print_scenario {
        print!("{}", borderflow_synth::DEFAULT_SCENARIO);
        return Ok(());
    }
    let out = args.out.expect("clap requires --out");
    let mut scenario = match &args.scenario {
        Some(path) => Scenario::from_file(path)?,
        None => Scenario::default(),
    };
    if let Some(n) = args.subscribers {
        scenario.subscribers = n;
    }
    if let Some(d) = args.days {
        scenario.days = d;
    }
    if let Some(s) = args.seed {
        scenario.seed = s;
    }
    let formats = match (args.layout, args.format) {
        // The layouts are written from the world's Parquet events.
        (Some(_), Format::Csv) => Format::Both,
        (_, f) => f,
    };
    let formats = match formats {
        Format::Csv => OutputFormats {
            csv: true,
            parquet: false,
        },
        Format::Parquet => OutputFormats {
            csv: false,
            parquet: true,
        },
        Format::Both => OutputFormats::BOTH,
    };
    let rd = RefData::embedded();
    if let Some(list) = &args.operators {
        return country(&scenario, &rd, &out, list, args.second_sim_share);
    }
    let started = std::time::Instant::now();
    let summary = generate(&scenario, &rd, &out, formats)
        .with_context(|| format!("generating into {}", out.display()))?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "generated {} SIMs, {} events in {:.1} s ({:.0} events/s) into {}",
        summary.subscribers,
        summary.events,
        secs,
        summary.events as f64 / secs.max(1e-9),
        out.display()
    );
    for (persona, n) in &summary.personas {
        println!("  {persona:<22} {n:>9}");
    }
    for f in &summary.files {
        println!("  wrote {}", out.join(f).display());
    }
    if let Some(layout) = args.layout {
        write_layout(layout, &scenario, &out)?;
    }
    if let Some(other) = &args.roaming_from {
        let path = out.join("roaming-in.parquet");
        let rows = borderflow_synth::country::roaming_records(
            &other.join("events.parquet"),
            scenario.measuring_country,
            &rd,
            &path,
        )?;
        println!(
            "  wrote {}: {rows} records of {}'s SIMs on {}'s networks",
            path.display(),
            other.display(),
            scenario.measuring_country
        );
    }
    Ok(())
}

/// Writes the generated world of `out` in `layout`, and says what faults it carries.
fn write_layout(layout: Layout, scenario: &Scenario, out: &std::path::Path) -> Result<()> {
    use borderflow_synth::layouts::{Faults, write_flowkit_calls, write_multimno_bronze};
    let events = out.join("events.parquet");
    let (injected, wrote) = match layout {
        Layout::MultimnoBronze => {
            let dir = out.join("mno_events");
            let (injected, files) =
                write_multimno_bronze(&events, &dir, &scenario.operator_plmn, Faults::SAMPLE)?;
            (
                injected,
                format!("{} ({} day folders)", dir.display(), files.len()),
            )
        }
        Layout::FlowkitCalls => {
            let dir = out.join("flowkit");
            std::fs::create_dir_all(&dir).with_context(|| dir.display().to_string())?;
            let injected = write_flowkit_calls(
                &events,
                &dir.join("calls.csv"),
                &dir.join("canonical.csv"),
                &scenario.operator_plmn,
                Faults::SAMPLE,
            )?;
            (injected, dir.join("calls.csv").display().to_string())
        }
    };
    println!(
        "  wrote {wrote}: {} rows of the world, and {} with no id, {} with no time, {} with a malformed time, {} duplicates, {} garbage networks",
        injected.rows,
        injected.null_ids,
        injected.null_times,
        injected.bad_times,
        injected.duplicates,
        injected.garbage
    );
    Ok(())
}

/// `--operators`: one country measured by several operators, with truth in persons.
fn country(
    scenario: &Scenario,
    rd: &RefData,
    out: &std::path::Path,
    list: &str,
    second_sim_share: f64,
) -> Result<()> {
    use borderflow_synth::country::{CountryOperators, generate_country};
    let operators = list
        .split(',')
        .map(|item| {
            let (plmn, share) = item.split_once('=').ok_or_else(|| {
                crate::exit::Usage(format!(
                    "--operators: {item:?} is not PLMN=SHARE (e.g. 63902=0.6)"
                ))
            })?;
            let share: f64 = share.trim().parse().map_err(|_| {
                crate::exit::Usage(format!("--operators: {share:?} is not a share"))
            })?;
            Ok((plmn.trim().to_string(), share))
        })
        .collect::<Result<Vec<_>, crate::exit::Usage>>()?;
    let summary = generate_country(
        scenario,
        rd,
        out,
        &CountryOperators {
            operators,
            second_sim_share,
        },
    )
    .with_context(|| format!("generating into {}", out.display()))?;
    println!(
        "generated {} persons ({} with two SIMs) measured by {} operators into {}",
        summary.persons,
        summary.two_sims,
        summary.sims.len(),
        out.display()
    );
    for (plmn, sims) in &summary.sims {
        println!(
            "  {plmn}: {sims} SIMs, {} events in {}",
            summary.events[plmn],
            out.join(plmn).display()
        );
    }
    println!(
        "  wrote {}",
        out.join(borderflow_synth::country::PERSONS_FILE).display()
    );
    Ok(())
}

//! `borderflow mirror`: two countries' releases of one period side by side (mirror
//! statistics), as a table on the terminal and a self-contained HTML page.

use std::path::PathBuf;

use anyhow::{Result, bail};
use borderflow_release::mirror::{MirroredRelease, mirror, render_html, unit_of};

/// Arguments of `borderflow mirror`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The release directory of country A (`release/<dataset>/<period>`).
    a_release: PathBuf,
    /// The release directory of country B, for the same period.
    b_release: PathBuf,
    /// The HTML page to write (never overwriting).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

/// Runs `borderflow mirror`.
pub fn run(args: Args) -> Result<()> {
    if args.out.exists() {
        bail!(
            "{}: already exists; remove it or choose another --out",
            args.out.display()
        );
    }
    let a = MirroredRelease::read(&args.a_release)?;
    let b = MirroredRelease::read(&args.b_release)?;
    let rows = mirror(&a, &b)?;
    let unit = unit_of(&a, &b);
    let html = render_html(&rows, &a.period, unit);
    println!(
        "{} {} and {} {}, in {}",
        a.country,
        a.period,
        b.country,
        b.period,
        unit.plural()
    );
    borderflow_core::write_file_atomic(&args.out, html.as_bytes())?;
    borderflow_core::make_public(&args.out)?;
    println!(
        "{:<12} {:<34} {:>14} {:>14} {:>14}",
        "corridor", "categories", "origin", "destination", "difference"
    );
    let side = |s: Option<borderflow_release::mirror::Side>| {
        s.map_or("withheld".to_string(), |s| {
            format!("{} ± {:.0}", s.value, 1.96 * s.noise_sd)
        })
    };
    let mut flagged = 0;
    for r in &rows {
        let verdict = match r.beyond_noise() {
            Some(true) => {
                flagged += 1;
                "  differs beyond noise"
            }
            Some(false) => "",
            None => "  not comparable",
        };
        println!(
            "{:<12} {:<34} {:>14} {:>14} {:>14}{verdict}",
            format!("{}→{}", r.origin, r.destination),
            format!("{} / {}", r.outbound.as_str(), r.inbound.as_str()),
            side(r.origin_side),
            side(r.destination_side),
            match (r.difference(), r.margin_95()) {
                (Some(d), Some(m)) => format!("{d:+} ± {m:.0}"),
                _ => String::new(),
            }
        );
    }
    println!(
        "{flagged} of {} corridor categories differ beyond noise; wrote {}",
        rows.len(),
        args.out.display()
    );
    Ok(())
}

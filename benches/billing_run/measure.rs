//! The measured parts: the run and the CSV export, each in a fresh process, the phases, and
//! the SQL counts that check what the run wrote.

use super::*;

pub(crate) async fn billing_run(
    app: &App,
    as_of: NaiveDate,
    trigger: &str,
) -> Result<String, Failure> {
    let request = RunRequest {
        scope: RunScope {
            as_of: AsOf::Date(as_of),
            zones: None,
        },
        dry_run: false,
        issue: true,
        trigger: trigger.into(),
        ahead: true,
    };
    match l2c_invoicing::run(&app.invoicing, request).await? {
        RunOutcome::Stored(id) => Ok(id),
        RunOutcome::Dry { .. } => Err("a stored run came back as a dry run".into()),
    }
}

/// `--phases`: where a run's time goes. Every page as the run does it (load, rate into
/// drafts, store with numbers), each phase timed, then rolled back instead of committed, so
/// the measured run afterwards still finds everything due. The run's own cursor and commit
/// are left out.
pub(crate) async fn phases(app: &App, date: NaiveDate) -> Result<(), Failure> {
    use l2c_invoicing::{draft, load};
    let settings = &app.settings.billing;
    let scope = RunScope {
        as_of: AsOf::Date(date),
        zones: None,
    };
    let origin = write::Origin {
        run_id: None,
        origin: "run",
        preceding_id: None,
    };
    let (mut t_load, mut t_rate, mut t_store, mut t_rollback) = (
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
    );
    let (mut cursor, mut pages, mut documents, mut lines) = (String::new(), 0, 0, 0);
    let started = Instant::now();
    loop {
        let mut tx = app.db.begin_write().await?;
        let t = Instant::now();
        let page = load::page(
            &mut tx,
            app.db.backend,
            &scope,
            settings,
            &cursor,
            settings.accounts_per_chunk,
            true,
        )
        .await?;
        t_load += t.elapsed();
        let Some(last) = page.last_id.clone() else {
            break;
        };
        let t = Instant::now();
        let mut drafts = Vec::new();
        for work in &page.work {
            drafts.extend(draft::draft(work, settings.rounding)?);
        }
        t_rate += t.elapsed();
        let t = Instant::now();
        let (d, l) =
            write::store(&mut tx, app.db.backend, settings, &drafts, &origin, true, 0).await?;
        t_store += t.elapsed();
        let t = Instant::now();
        tx.rollback().await?;
        t_rollback += t.elapsed();
        (cursor, pages, documents, lines) = (last, pages + 1, documents + d.len(), lines + l);
    }
    let total = started.elapsed().as_secs_f64();
    let share = |d: Duration| {
        format!(
            "{:.1} s ({:.0} %)",
            d.as_secs_f64(),
            d.as_secs_f64() * 100.0 / total
        )
    };
    println!(
        "phases {total:.1} s over {pages} pages ({documents} documents, {lines} lines): load \
         {}, rate {}, store {}, rollback {}",
        share(t_load),
        share(t_rate),
        share(t_store),
        share(t_rollback)
    );
    Ok(())
}

/// The measured run as its process saw it.
pub(crate) struct Measured {
    pub(crate) run: String,
    pub(crate) secs: f64,
    pub(crate) cpu_secs: f64,
    pub(crate) peak_mib: f64,
    pub(crate) rss_before_mib: f64,
    pub(crate) reset: bool,
}

/// `--measure-url`: the measured run alone, in a process of its own (as `l2c billing run`
/// would be), so its peak RSS is not inflated by what setup left in the allocator and the
/// page caches. Prints one line for [`measure_in_child`].
pub(crate) async fn measure(url: &str, args: &Args) -> Result<(), Failure> {
    let app = open_url(url, args).await?;
    let rss_before = status_mib("VmRSS:");
    let reset = reset_peak_rss();
    let cpu = cpu_time();
    let started = Instant::now();
    let run = billing_run(&app, args.date, "bench").await?;
    let took = started.elapsed();
    let cpu = cpu_time() - cpu;
    let peak = peak_rss_mib();
    println!(
        "measured {run} {} {} {peak} {rss_before} {}",
        took.as_secs_f64(),
        cpu.as_secs_f64(),
        u8::from(reset)
    );
    Ok(())
}

/// Runs this binary with `--measure-url` and reads what it measured.
pub(crate) fn measure_in_child(url: &str, args: &Args) -> Result<Measured, Failure> {
    let mut command = std::process::Command::new(std::env::current_exe()?);
    command
        .args(["--measure-url", url, "--date"])
        .arg(args.date.to_string());
    if let Some(n) = args.accounts_per_chunk {
        command.args(["--accounts-per-chunk", &n.to_string()]);
    }
    let fields = child_result(&mut command, "measured ")?;
    let number = |i: usize| -> Result<f64, Failure> {
        Ok(fields.get(i).ok_or("short result line")?.parse::<f64>()?)
    };
    Ok(Measured {
        run: fields.first().ok_or("empty result line")?.to_string(),
        secs: number(1)?,
        cpu_secs: number(2)?,
        peak_mib: number(3)?,
        rss_before_mib: number(4)?,
        reset: number(5)? > 0.0,
    })
}

pub(crate) async fn count(app: &App, sql: &str, run: &str) -> Result<i64, Failure> {
    Ok(sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(run.to_string())
        .fetch_one(&app.db.pool)
        .await?
        .try_get::<i64, _>(0)?)
}

/// What the run stored, counted the way `Expected` counts.
pub(crate) async fn measured(app: &App, run: &str) -> Result<Expected, Failure> {
    let lines = "SELECT COUNT(*) FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id \
                 WHERE i.run_id = $1";
    Ok(Expected {
        documents: count(app, "SELECT COUNT(*) FROM invoices WHERE run_id = $1", run).await?,
        lines: count(app, lines, run).await?,
        one_time: count(app, &format!("{lines} AND l.charge_kind = 'one_time'"), run).await?,
        prorated: count(
            app,
            &format!(
                "{lines} AND l.charge_kind = 'monthly' AND (l.service_from <> l.charge_start \
                 OR l.service_to <> l.charge_end)"
            ),
            run,
        )
        .await?,
        credits: count(app, &format!("{lines} AND l.net LIKE '-%'"), run).await?,
    })
}

/// Problems with the run's documents: not one per account, not issued, or numbers that are
/// not 1..=n in each series (a series' issue year has no earlier numbers here). Also prints
/// the documents per series.
pub(crate) async fn check_documents(
    app: &App,
    run: &str,
    accounts: usize,
) -> Result<Vec<String>, Failure> {
    let mut wrong = Vec::new();
    let invoiced = count(
        app,
        "SELECT COUNT(DISTINCT billing_account_id) FROM invoices WHERE run_id = $1",
        run,
    )
    .await?;
    let documents = count(app, "SELECT COUNT(*) FROM invoices WHERE run_id = $1", run).await?;
    println!("{invoiced} of {accounts} accounts have a document of the run");
    if invoiced != accounts as i64 || documents != accounts as i64 {
        wrong.push(format!(
            "{documents} documents for {invoiced} accounts, expected one for each of {accounts}"
        ));
    }
    let rows = sqlx::query(
        "SELECT kind, status, series, COUNT(*) AS n, COUNT(DISTINCT number) AS numbers, \
         MAX(number) AS last FROM invoices WHERE run_id = $1 GROUP BY kind, status, series \
         ORDER BY kind, series",
    )
    .bind(run.to_string())
    .fetch_all(&app.db.pool)
    .await?;
    for r in &rows {
        let kind: String = r.try_get("kind")?;
        let status: String = r.try_get("status")?;
        let series: Option<String> = r.try_get("series")?;
        let (n, numbers): (i64, i64) = (r.try_get("n")?, r.try_get("numbers")?);
        let last: Option<String> = r.try_get("last")?;
        let series = series.unwrap_or_default();
        println!(
            "  {n} {status} {kind}s in series {series}, numbers up to {}",
            last.as_deref().unwrap_or("-")
        );
        let highest = write::format_number(&series, n);
        if status != "issued" || numbers != n || last.as_deref() != Some(highest.as_str()) {
            wrong.push(format!(
                "{n} {status} {kind}s of series {series} have {numbers} distinct numbers up \
                 to {last:?} (expected 1 to {highest})"
            ));
        }
    }
    Ok(wrong)
}

/// What the export's process measured.
pub(crate) struct Exported {
    pub(crate) secs: f64,
    pub(crate) lines: u64,
    pub(crate) bytes: u64,
    pub(crate) peak_mib: f64,
}

/// `--measure-url URL --export-run RUN`: the run's CSV export, as `l2c billing export` does
/// it (chunks from the exporter written to a file), timed with its own peak RSS.
pub(crate) async fn measure_export(url: &str, run: &str, args: &Args) -> Result<(), Failure> {
    let app = open_url(url, args).await?;
    let dir = tempfile::tempdir()?;
    let mut file = std::io::BufWriter::new(std::fs::File::create(dir.path().join("run.csv"))?);
    reset_peak_rss();
    let started = Instant::now();
    let mut lines = 0;
    let csv = l2c_invoicing::export::Format::Csv;
    let bytes = l2c_invoicing::export::export_to(&app.db, run, None, csv, &mut file, |done, _| {
        lines = done
    })
    .await?;
    let took = started.elapsed();
    println!(
        "exported {} {lines} {bytes} {}",
        took.as_secs_f64(),
        peak_rss_mib()
    );
    Ok(())
}

/// Runs this binary to export `run` as CSV and reads what it measured.
pub(crate) fn export_in_child(url: &str, run: &str) -> Result<Exported, Failure> {
    let fields = child_result(
        std::process::Command::new(std::env::current_exe()?).args([
            "--measure-url",
            url,
            "--export-run",
            run,
        ]),
        "exported ",
    )?;
    let field =
        |i: usize| -> Result<&str, Failure> { Ok(fields.get(i).ok_or("short line")?.as_str()) };
    Ok(Exported {
        secs: field(0)?.parse()?,
        lines: field(1)?.parse()?,
        bytes: field(2)?.parse()?,
        peak_mib: field(3)?.parse()?,
    })
}

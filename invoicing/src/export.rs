//! Exports of a run's documents, streamed: documents are read in batches of 500 by number
//! (two short queries each: the documents, then their lines, which SQLite hands back as one
//! aggregated row), and leave in chunks through a bounded channel, so memory stays constant
//! however large the run. CSV has one row per line (RFC 4180, the columns in
//! [`CSV_COLUMNS`]); JSON has the documents with their lines and totals; UBL is a zip of one
//! Peppol BIS Billing 3.0 XML per issued document (drafts have no number yet).

use super::draft::document;
use super::read::{self, invoice_from_row, kind_of, InvoiceView, LineRow, RunView};
use l2c_billing::{Currency, DocumentKind, IssuedDocument, RatedLine};
use l2c_engine::db::Db;
use l2c_orders::error::{DeskError, DeskResult};
use serde::Serialize;
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// The export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// One row per invoice line.
    Csv,
    /// Documents with lines and totals.
    Json,
    /// A zip of UBL 2.1 documents.
    Ubl,
    /// A zip of PDF documents (A4).
    Pdf,
}

impl Format {
    /// The media type of the export.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
            Format::Ubl | Format::Pdf => "application/zip",
        }
    }

    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Ubl | Format::Pdf => "zip",
        }
    }

    /// The format named `text` (`csv`, `json`, `ubl`, `pdf`), or a problem naming `format`.
    pub fn parse(text: &str) -> DeskResult<Format> {
        match text {
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            "ubl" => Ok(Format::Ubl),
            "pdf" => Ok(Format::Pdf),
            other => Err(DeskError::field(
                "format",
                "format",
                format!("{other:?} is not an export format: csv, json, ubl or pdf"),
            )),
        }
    }

    /// Whether the export is one file per issued document (UBL, PDF): only issued documents
    /// have the number such a file carries, and each needs its buyer's address.
    pub fn is_per_document(self) -> bool {
        matches!(self, Format::Ubl | Format::Pdf)
    }
}

/// Bytes of the export and how many invoice lines they complete.
pub struct Chunk {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Lines written so far, for progress.
    pub lines: u64,
}

/// The CSV header: stable, documented in docs/billing-runs.md.
pub const CSV_COLUMNS: [&str; 18] = [
    "invoice_number",
    "document_kind",
    "status",
    "issue_date",
    "due_date",
    "billing_account",
    "period_start",
    "period_end",
    "line",
    "description",
    "service_start",
    "service_end",
    "quantity",
    "unit_price",
    "net_amount",
    "tax_category",
    "tax_rate",
    "currency",
];

/// A `Write` whose bytes the exporter takes out between documents.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Buffer {
    fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .map(|mut b| std::mem::take(&mut *b))
            .unwrap_or_default()
    }
}

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut inner = self
            .0
            .lock()
            .map_err(|_| std::io::Error::other("export buffer poisoned"))?;
        inner.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn io(e: impl std::fmt::Display) -> DeskError {
    DeskError::Internal(format!("export: {e}"))
}

/// Flush threshold: chunks of about this size go to the channel.
const CHUNK_BYTES: usize = 256 * 1024;

/// Refuses a UBL or PDF export while a document's account lacks what such a document needs,
/// naming the account and the field, before any byte is sent.
pub async fn check_documents_ready(db: &Db, run_id: &str, only: Option<&str>) -> DeskResult<()> {
    let rows = sqlx::query(
        "SELECT DISTINCT billing_account_id AS id FROM invoices i \
         WHERE i.run_id = $1 AND i.status = 'issued' AND i.buyer IS NULL \
         AND ($2 = '' OR i.number = $2)",
    )
    .bind(run_id.to_string())
    .bind(only.unwrap_or_default().to_string())
    .fetch_all(&db.pool)
    .await?;
    if let Some(row) = rows.first() {
        let id: String = sqlx::Row::try_get(row, "id")?;
        return Err(DeskError::field(
            "format",
            "buyer_party",
            format!(
                "a UBL or PDF invoice needs the buyer's address and electronic address: billing account \
                 {id} has no `buyer` ({} account(s) in this run lack it)",
                rows.len()
            ),
        ));
    }
    Ok(())
}

/// The issued document numbered `number` of run `run_id`, for a UBL or PDF file of its own.
pub async fn run_document(db: &Db, run_id: &str, number: &str) -> DeskResult<IssuedDocument> {
    let filter = read::InvoiceFilter {
        run: Some(run_id.to_string()),
        number: Some(number.to_string()),
        ..Default::default()
    };
    let found = read::invoices(db, &filter, 1)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| DeskError::not_found("invoice", number))?;
    let mut conn = db.pool.acquire().await?;
    read::stored_document(&mut conn, &found).await
}

/// The UBL (`format` [`Format::Ubl`]) or PDF file of `document`, or a problem naming every
/// field EN 16931 still needs (the buyer's address of an account that had none, say).
pub fn document_file(document: &IssuedDocument, format: Format) -> DeskResult<Vec<u8>> {
    let problems = document.problems();
    if !problems.is_empty() {
        let list = problems
            .into_iter()
            .map(|(path, rule)| l2c_orders::error::problem(path, "en16931", rule))
            .collect();
        return Err(DeskError::Validation(list));
    }
    match format {
        Format::Pdf => l2c_billing::pdf::to_vec(document),
        _ => l2c_billing::ubl::write(document, Vec::new()),
    }
    .map_err(|e| DeskError::Internal(e.to_string()))
}

/// Documents per batch: one query for the documents, one for their lines.
const BATCH: i64 = 500;

/// The run `run_id`, once it is known to exist and (for UBL) every document in the export
/// can be written: what [`export`] takes, checked before any byte is sent.
pub async fn prepare(
    db: &Db,
    run_id: &str,
    only: Option<&str>,
    format: Format,
) -> DeskResult<RunView> {
    let run = read::run(db, run_id).await?;
    if format.is_per_document() {
        check_documents_ready(db, run_id, only).await?;
    }
    Ok(run)
}

/// Exports into `out` (a file, a buffer), telling `progress` the lines written so far and
/// the run's lines in all; returns the bytes written.
pub async fn export_to<W: Write>(
    db: &Db,
    run_id: &str,
    only: Option<&str>,
    format: Format,
    out: &mut W,
    mut progress: impl FnMut(u64, u64),
) -> DeskResult<u64> {
    let run = prepare(db, run_id, only, format).await?;
    let total = u64::try_from(run.lines).unwrap_or_default();
    let (tx, mut rx) = mpsc::channel(4);
    let exporter = {
        let db = db.clone();
        let only = only.map(str::to_string);
        tokio::spawn(async move { export(&db, &run, only.as_deref(), format, &tx).await })
    };
    let mut bytes = 0;
    while let Some(chunk) = rx.recv().await {
        let chunk: Chunk = chunk;
        out.write_all(&chunk.bytes).map_err(io)?;
        bytes += chunk.bytes.len() as u64;
        progress(chunk.lines, total);
    }
    out.flush().map_err(io)?;
    exporter.await.map_err(io)??;
    Ok(bytes)
}

/// The export of `run` (from [`prepare`]) as a stream of bytes for a response body, written
/// by a task of its own. A failure after the first bytes cannot change the status any more,
/// so it ends the stream with an error (the client sees a cut download) and is logged.
/// The stream is fused: a compressing body polls once more after the end.
pub fn stream(
    db: Db,
    run: RunView,
    only: Option<String>,
    format: Format,
) -> impl futures::Stream<Item = std::io::Result<Vec<u8>>> + Send + 'static {
    let (tx, rx) = mpsc::channel::<Chunk>(4);
    let (failed_tx, failed_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        if let Err(e) = export(&db, &run, only.as_deref(), format, &tx).await {
            tracing::error!(run = %run.id, error = %e, "export failed");
            let _ = failed_tx.send(());
        }
    });
    futures::StreamExt::fuse(futures::stream::unfold(
        (rx, Some(failed_rx)),
        |(mut rx, failed)| async move {
            match rx.recv().await {
                Some(chunk) => Some((Ok(chunk.bytes), (rx, failed))),
                None => {
                    // The exporter reports a failure before it drops its sender.
                    let mut failed = failed?;
                    failed.try_recv().ok()?;
                    let cut = std::io::Error::other("the export failed; see the server log");
                    Some((Err(cut), (rx, None)))
                }
            }
        },
    ))
}

/// Streams the documents of `run` (from [`prepare`]; or only the one numbered `only`) in
/// `format` to `out`: issued documents by number, then (CSV and JSON) drafts and voids by id.
/// Each batch is two short queries, so no read stays open while a slow client takes its time.
pub async fn export(
    db: &Db,
    run: &RunView,
    only: Option<&str>,
    format: Format,
    out: &mpsc::Sender<Chunk>,
) -> DeskResult<()> {
    let run_id = run.id.as_str();
    let mut writer = DocWriter::new(db, format, run)?;
    let mut lines: u64 = 0;
    // Only issued documents have the number a UBL or PDF document must carry.
    let passes: &[bool] = if format.is_per_document() {
        &[true]
    } else {
        &[true, false]
    };
    for numbered in passes {
        let mut after = String::new();
        loop {
            let mut conn = db.pool.acquire().await?;
            let batch = invoice_batch(&mut conn, run_id, only, *numbered, &after).await?;
            let Some(last) = batch.last() else {
                break;
            };
            after = match numbered {
                true => last.number.clone().unwrap_or_default(),
                false => last.id.clone(),
            };
            let ids: Vec<String> = batch.iter().map(|v| v.id.clone()).collect();
            let mut by_invoice: HashMap<String, Vec<LineRow>> = HashMap::new();
            for line in read::lines_of(&mut conn, db.backend, &ids).await? {
                by_invoice
                    .entry(line.invoice_id.clone())
                    .or_default()
                    .push(line);
            }
            drop(conn);
            for view in &batch {
                let doc_lines = by_invoice.remove(&view.id).unwrap_or_default();
                lines += doc_lines.len() as u64;
                writer.document(view, &doc_lines).await?;
                if writer.buffered() >= CHUNK_BYTES {
                    send(out, writer.take(), lines).await?;
                }
            }
        }
    }
    writer.finish()?;
    send(out, writer.take(), lines).await
}

/// The next batch of the run's documents: numbered ones after number `after`, or numberless
/// ones after id `after`.
async fn invoice_batch(
    conn: &mut sqlx::AnyConnection,
    run_id: &str,
    only: Option<&str>,
    numbered: bool,
    after: &str,
) -> DeskResult<Vec<InvoiceView>> {
    let columns = read::INVOICE_COLUMNS;
    let sql = if numbered {
        format!(
            "SELECT {columns} FROM invoices WHERE run_id = $1 AND number IS NOT NULL \
             AND number > $2 AND ($3 = '' OR number = $3) ORDER BY number LIMIT {BATCH}"
        )
    } else {
        format!(
            "SELECT {columns} FROM invoices WHERE run_id = $1 AND number IS NULL AND id > $2 \
             AND $3 = '' ORDER BY id LIMIT {BATCH}"
        )
    };
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(run_id.to_string())
        .bind(after.to_string())
        .bind(only.unwrap_or_default().to_string())
        .fetch_all(conn)
        .await?;
    rows.iter().map(invoice_from_row).collect()
}

async fn send(out: &mpsc::Sender<Chunk>, bytes: Vec<u8>, lines: u64) -> DeskResult<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    out.send(Chunk { bytes, lines })
        .await
        .map_err(|_| io("the receiver went away"))
}

/// A document as the JSON export writes it.
#[derive(Serialize)]
struct JsonDocument<'a> {
    #[serde(flatten)]
    view: &'a InvoiceView,
    lines: Vec<JsonLine>,
    tax_subtotals: &'a [l2c_billing::TaxSubtotal],
    totals: &'a l2c_billing::Totals,
}

#[derive(Serialize)]
struct JsonLine {
    line: usize,
    description: String,
    service_start: Option<String>,
    service_end: Option<String>,
    quantity: String,
    unit_price: String,
    net_amount: String,
    tax_category: &'static str,
    tax_rate: String,
}

enum Sink {
    Csv(Box<csv::Writer<Buffer>>),
    Json {
        first: bool,
    },
    /// One UBL or PDF file per document, zipped.
    Files(
        Format,
        Box<zip::ZipWriter<zip::write::StreamWriter<Buffer>>>,
    ),
}

/// Writes documents in one format into a [`Buffer`].
struct DocWriter<'a> {
    db: &'a Db,
    buffer: Buffer,
    sink: Sink,
}

impl<'a> DocWriter<'a> {
    fn new(db: &'a Db, format: Format, run: &RunView) -> DeskResult<Self> {
        let mut buffer = Buffer::default();
        let sink = match format {
            Format::Csv => {
                let mut w = csv::Writer::from_writer(buffer.clone());
                w.write_record(CSV_COLUMNS).map_err(io)?;
                Sink::Csv(Box::new(w))
            }
            Format::Json => {
                buffer.write_all(b"{\"run\":").map_err(io)?;
                serde_json::to_writer(&mut buffer, run).map_err(io)?;
                buffer.write_all(b",\"invoices\":[").map_err(io)?;
                Sink::Json { first: true }
            }
            Format::Ubl | Format::Pdf => {
                Sink::Files(format, Box::new(zip::ZipWriter::new_stream(buffer.clone())))
            }
        };
        Ok(DocWriter { db, buffer, sink })
    }

    fn buffered(&self) -> usize {
        self.buffer.0.lock().map(|b| b.len()).unwrap_or_default()
    }

    fn take(&self) -> Vec<u8> {
        self.buffer.take()
    }

    /// One CSV row per line, written from the stored text: a credit note's quantities and
    /// amounts are negated, as the document shows them.
    fn csv_rows(&mut self, view: &InvoiceView, lines: &[LineRow]) -> DeskResult<()> {
        let Sink::Csv(w) = &mut self.sink else {
            return Ok(());
        };
        let credit = kind_of(view) == DocumentKind::CreditNote;
        let period_end = last_day(&view.period_end);
        for l in lines {
            let (start, end) = match l.charge_kind.as_str() {
                "one_time" => (String::new(), String::new()),
                _ => (l.service_from.clone(), last_day(&l.service_to)),
            };
            w.write_record([
                view.number.as_deref().unwrap_or_default(),
                &view.kind,
                &view.status,
                view.issue_date.as_deref().unwrap_or_default(),
                view.due_date.as_deref().unwrap_or_default(),
                &view.billing_account,
                &view.period_start,
                &period_end,
                &l.position.to_string(),
                &l.description,
                &start,
                &end,
                &signed(&l.quantity, credit),
                &l.unit_price,
                &signed(&l.net, credit),
                &l.tax_category,
                &l.tax_percent,
                &view.currency,
            ])
            .map_err(io)?;
        }
        Ok(())
    }

    async fn document(&mut self, view: &InvoiceView, rows: &[LineRow]) -> DeskResult<()> {
        if let Sink::Csv(_) = self.sink {
            return self.csv_rows(view, rows);
        }
        let currency = Currency::from_code(&view.currency).map_err(io)?;
        let lines = rows
            .iter()
            .map(|r| r.rated(currency, view.kept.rounding))
            .collect::<DeskResult<Vec<RatedLine>>>()?;
        match &mut self.sink {
            Sink::Csv(_) => Ok(()),
            Sink::Json { .. } => {
                let doc = document(kind_of(view), currency, &lines, view.kept.rounding)?;
                let json = JsonDocument {
                    view,
                    lines: json_lines(view, &lines),
                    tax_subtotals: doc.tax_subtotals(),
                    totals: doc.totals(),
                };
                if let Sink::Json { first } = &mut self.sink {
                    if !*first {
                        self.buffer.write_all(b",").map_err(io)?;
                    }
                    *first = false;
                }
                serde_json::to_writer(&mut self.buffer, &json).map_err(io)
            }
            Sink::Files(..) => {
                let doc = self.issued_document(view, &lines).await?;
                let Sink::Files(format, zip) = &mut self.sink else {
                    return Ok(());
                };
                let number = view.number.as_deref().unwrap_or(&view.id);
                let (name, method) = match format {
                    Format::Pdf => (format!("{number}.pdf"), zip::CompressionMethod::Stored),
                    _ => (format!("{number}.xml"), zip::CompressionMethod::Deflated),
                };
                // PDF streams are compressed already: deflating them again only costs time.
                let options = zip::write::SimpleFileOptions::default().compression_method(method);
                zip.start_file(name, options).map_err(io)?;
                match format {
                    Format::Pdf => l2c_billing::pdf::write(&doc, zip.as_mut()).map(|_| ()),
                    _ => l2c_billing::ubl::write(&doc, zip.as_mut()).map(|_| ()),
                }
                .map_err(io)
            }
        }
    }

    async fn issued_document(
        &mut self,
        view: &InvoiceView,
        lines: &[RatedLine],
    ) -> DeskResult<IssuedDocument> {
        let preceding = if view.preceding_id.is_some() {
            let mut conn = self.db.pool.acquire().await?;
            read::preceding(&mut conn, view).await?
        } else {
            None
        };
        read::issued_document(view, preceding, lines)
    }

    fn finish(&mut self) -> DeskResult<()> {
        match std::mem::replace(&mut self.sink, Sink::Json { first: false }) {
            Sink::Csv(mut w) => w.flush().map_err(io),
            Sink::Json { .. } => self.buffer.write_all(b"]}").map_err(io),
            Sink::Files(_, zip) => zip.finish().map(|_| ()).map_err(io),
        }
    }
}

/// `amount` (decimal text) as it reads on a credit note when `negate`: its sign turned.
fn signed(amount: &str, negate: bool) -> String {
    if !negate || amount.chars().all(|c| matches!(c, '0' | '.')) {
        return amount.to_string();
    }
    match amount.strip_prefix('-') {
        Some(rest) => rest.to_string(),
        None => format!("-{amount}"),
    }
}

/// The last day of a period that ends (exclusively) on `end`.
fn last_day(end: &str) -> String {
    chrono::NaiveDate::parse_from_str(end, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.pred_opt())
        .map(|d| d.to_string())
        .unwrap_or_default()
}

/// The first and last day a line bills, for recurring charges.
fn service_days(line: &RatedLine) -> (Option<String>, Option<String>) {
    match line.line.period() {
        Some(p) => (Some(p.start().to_string()), Some(p.last_day().to_string())),
        None => (None, None),
    }
}

fn json_lines(view: &InvoiceView, lines: &[RatedLine]) -> Vec<JsonLine> {
    let sign = super::draft::sign(kind_of(view));
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let l = &line.line;
            let (service_start, service_end) = service_days(line);
            JsonLine {
                line: i + 1,
                description: l.description().to_string(),
                service_start,
                service_end,
                quantity: (l.quantity() * sign).to_string(),
                unit_price: l.unit_price().amount().to_string(),
                net_amount: (l.net().amount() * sign).to_string(),
                tax_category: l.tax().category().code(),
                tax_rate: l.tax().percent().to_string(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credit_notes_amounts_turn_sign_as_text() {
        assert_eq!(signed("-22.00", true), "22.00");
        assert_eq!(signed("31.00", true), "-31.00");
        assert_eq!(signed("0.00", true), "0.00");
        assert_eq!(signed("-1", false), "-1");
        assert_eq!(last_day("2026-03-01"), "2026-02-28");
        assert_eq!(last_day("2024-03-01"), "2024-02-29");
    }
}

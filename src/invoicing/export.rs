//! Exports of a run's documents, streamed: rows come from one database cursor ordered by
//! invoice number and line, and leave in chunks through a bounded channel, so memory stays
//! constant however large the run. CSV has one row per line (RFC 4180, the columns in
//! [`CSV_COLUMNS`]); JSON has the documents with their lines and totals; UBL is a zip of one
//! Peppol BIS Billing 3.0 XML per issued document (drafts have no number yet).

use super::draft::document;
use super::read::{self, invoice_from_row, kind_of, line_from_row, InvoiceView, LINE_COLUMNS};
use crate::error::{AppError, AppResult};
use futures::TryStreamExt;
use l2c_billing::{Currency, DocumentKind, IssuedDocument, RatedLine};
use l2c_engine::db::Db;
use serde::Serialize;
use std::io::Write;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// The export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// One row per invoice line.
    Csv,
    /// Documents with lines and totals.
    Json,
    /// A zip of UBL 2.1 documents.
    Ubl,
}

impl Format {
    /// The media type of the export.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
            Format::Ubl => "application/zip",
        }
    }

    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Ubl => "zip",
        }
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

fn io(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(format!("export: {e}"))
}

/// Flush threshold: chunks of about this size go to the channel.
const CHUNK_BYTES: usize = 256 * 1024;

/// Refuses a UBL export while a document's account lacks what a UBL document needs, naming
/// the account and the field, before any byte is sent.
pub async fn check_ubl_ready(db: &Db, run_id: &str, only: Option<&str>) -> AppResult<()> {
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
        return Err(AppError::field(
            "format",
            "buyer_party",
            format!(
                "a UBL invoice needs the buyer's address and electronic address: billing account \
                 {id} has no `buyer` ({} account(s) in this run lack it)",
                rows.len()
            ),
        ));
    }
    Ok(())
}

/// Streams run `run_id`'s documents (or only the one numbered `only`) in `format` to `out`.
pub async fn export(
    db: &Db,
    run_id: &str,
    only: Option<&str>,
    format: Format,
    out: &mpsc::Sender<Chunk>,
) -> AppResult<()> {
    if format == Format::Ubl {
        check_ubl_ready(db, run_id, only).await?;
    }
    let run = read::run(db, run_id).await?;
    let mut writer = DocWriter::new(db, format, &run)?;
    let columns: String = read::INVOICE_COLUMNS
        .split(", ")
        .map(|c| format!("i.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    // Only issued documents have the number a UBL document must carry.
    let issued_only = if format == Format::Ubl {
        " AND i.status = 'issued'"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {columns}, {LINE_COLUMNS} FROM invoices i JOIN invoice_lines l ON l.invoice_id = i.id \
         WHERE i.run_id = $1 AND ($2 = '' OR i.number = $2){issued_only} \
         ORDER BY i.number, i.id, l.position"
    );
    let mut conn = db.pool.acquire().await?;
    let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(run_id.to_string())
        .bind(only.unwrap_or_default().to_string())
        .fetch(&mut *conn);
    let mut current: Option<(InvoiceView, Vec<RatedLine>)> = None;
    let mut lines: u64 = 0;
    while let Some(row) = rows.try_next().await? {
        let id: String = sqlx::Row::try_get(&row, "id")?;
        if current.as_ref().is_some_and(|(v, _)| v.id != id) {
            if let Some((view, doc_lines)) = current.take() {
                writer.document(&view, &doc_lines).await?;
            }
        }
        let (view, doc_lines) = match &mut current {
            Some(c) => c,
            None => current.insert((invoice_from_row(&row)?, Vec::new())),
        };
        let currency = Currency::from_code(&view.currency).map_err(io)?;
        let line = line_from_row(&row, currency, view.kept.rounding)?;
        writer.line(view, doc_lines.len() + 1, &line)?;
        doc_lines.push(line);
        lines += 1;
        if writer.buffered() >= CHUNK_BYTES {
            send(out, writer.take(), lines).await?;
        }
    }
    if let Some((view, doc_lines)) = current.take() {
        writer.document(&view, &doc_lines).await?;
    }
    writer.finish()?;
    send(out, writer.take(), lines).await
}

async fn send(out: &mpsc::Sender<Chunk>, bytes: Vec<u8>, lines: u64) -> AppResult<()> {
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
    Json { first: bool },
    Ubl(Box<zip::ZipWriter<zip::write::StreamWriter<Buffer>>>),
}

/// Writes documents in one format into a [`Buffer`].
struct DocWriter<'a> {
    db: &'a Db,
    buffer: Buffer,
    sink: Sink,
}

impl<'a> DocWriter<'a> {
    fn new(db: &'a Db, format: Format, run: &super::run::RunView) -> AppResult<Self> {
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
            Format::Ubl => Sink::Ubl(Box::new(zip::ZipWriter::new_stream(buffer.clone()))),
        };
        Ok(DocWriter { db, buffer, sink })
    }

    fn buffered(&self) -> usize {
        self.buffer.0.lock().map(|b| b.len()).unwrap_or_default()
    }

    fn take(&self) -> Vec<u8> {
        self.buffer.take()
    }

    /// A line as it reads on the document: a credit note's lines are negated.
    fn line(&mut self, view: &InvoiceView, position: usize, line: &RatedLine) -> AppResult<()> {
        let Sink::Csv(w) = &mut self.sink else {
            return Ok(());
        };
        let sign = sign(view);
        let l = &line.line;
        let (start, end) = service_days(line);
        w.write_record([
            view.number.as_deref().unwrap_or_default(),
            &view.kind,
            &view.status,
            view.issue_date.as_deref().unwrap_or_default(),
            view.due_date.as_deref().unwrap_or_default(),
            &view.billing_account,
            &view.period_start,
            &last_day(&view.period_end),
            &position.to_string(),
            l.description(),
            &start.unwrap_or_default(),
            &end.unwrap_or_default(),
            &(l.quantity() * sign).to_string(),
            &l.unit_price().amount().to_string(),
            &(l.net().amount() * sign).to_string(),
            l.tax().category().code(),
            &l.tax().percent().to_string(),
            &view.currency,
        ])
        .map_err(io)
    }

    async fn document(&mut self, view: &InvoiceView, lines: &[RatedLine]) -> AppResult<()> {
        match &mut self.sink {
            Sink::Csv(w) => w.flush().map_err(io),
            Sink::Json { .. } => {
                let currency = Currency::from_code(&view.currency).map_err(io)?;
                let doc = document(kind_of(view), currency, lines, view.kept.rounding)?;
                let json = JsonDocument {
                    view,
                    lines: json_lines(view, lines),
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
            Sink::Ubl(_) => {
                let doc = self.ubl_document(view, lines).await?;
                let name = format!("{}.xml", view.number.as_deref().unwrap_or(&view.id));
                let Sink::Ubl(zip) = &mut self.sink else {
                    return Ok(());
                };
                let options = zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated);
                zip.start_file(name, options).map_err(io)?;
                l2c_billing::ubl::write(&doc, zip.as_mut()).map_err(io)?;
                Ok(())
            }
        }
    }

    async fn ubl_document(
        &mut self,
        view: &InvoiceView,
        lines: &[RatedLine],
    ) -> AppResult<IssuedDocument> {
        let preceding = if view.preceding_id.is_some() {
            let mut conn = self.db.pool.acquire().await?;
            read::preceding(&mut conn, view).await?
        } else {
            None
        };
        read::issued_document(view, preceding, lines)
    }

    fn finish(&mut self) -> AppResult<()> {
        match std::mem::replace(&mut self.sink, Sink::Json { first: false }) {
            Sink::Csv(mut w) => w.flush().map_err(io),
            Sink::Json { .. } => self.buffer.write_all(b"]}").map_err(io),
            Sink::Ubl(zip) => zip.finish().map(|_| ()).map_err(io),
        }
    }
}

fn sign(view: &InvoiceView) -> rust_decimal::Decimal {
    match kind_of(view) {
        DocumentKind::Invoice => rust_decimal::Decimal::ONE,
        DocumentKind::CreditNote => rust_decimal::Decimal::NEGATIVE_ONE,
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
    let sign = sign(view);
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

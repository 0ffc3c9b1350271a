//! Who sees which invoices: finance and admins every document, requesters only the issued
//! documents of their customer account's billing accounts (anything else is not found, so ids
//! of other accounts' invoices leak nothing). The API and the web desk both ask here.

use crate::read::{self, InvoiceFilter, InvoiceView};
use l2c_billing::IssuedDocument;
use l2c_engine::db::Db;
use l2c_orders::accounts;
use l2c_orders::error::{DeskError, DeskResult};
use l2c_orders::users::{Role, User};

/// The roles that see invoices at all.
pub const INVOICE_READERS: &[Role] = &[Role::Requester, Role::Finance, Role::Admin];

/// The billing accounts `user` may see invoices of; `None` for all (finance and admins).
pub async fn own_accounts(db: &Db, user: &User) -> DeskResult<Option<Vec<String>>> {
    Ok(match user.account_scope()? {
        Some(customer) => Some(accounts::billing_account_ids(db, customer).await?),
        None => None,
    })
}

/// What to list, before the viewer's own limits apply.
#[derive(Debug, Default, Clone)]
pub struct Wanted {
    /// Only this run's.
    pub run: Option<String>,
    /// Only this billing account's.
    pub account: Option<String>,
    /// Only the one with this number.
    pub number: Option<String>,
    /// Only those after this invoice id.
    pub after: Option<String>,
    /// Only this kind (`invoice`, `credit_note`).
    pub kind: Option<String>,
    /// Only this status (`draft`, `issued`, `void`; requesters see issued ones only anyway).
    pub status: Option<String>,
    /// Only those whose period overlaps these days (first day, first day after).
    pub overlapping: Option<(String, String)>,
}

/// The invoices `user` may see that match `wanted`, in creation order, at most `limit`.
pub async fn invoices(
    db: &Db,
    user: &User,
    wanted: Wanted,
    limit: i64,
) -> DeskResult<Vec<InvoiceView>> {
    let accounts = match (own_accounts(db, user).await?, wanted.account) {
        (Some(own), Some(one)) => Some(own.into_iter().filter(|a| *a == one).collect()),
        (Some(own), None) => Some(own),
        (None, one) => one.map(|a| vec![a]),
    };
    let filter = InvoiceFilter {
        issued_only: user.role == Role::Requester,
        run: wanted.run,
        accounts,
        number: wanted.number,
        after: wanted.after,
        kind: wanted.kind,
        status: wanted.status,
        overlapping: wanted.overlapping,
    };
    read::invoices(db, &filter, limit).await
}

/// Invoice `id` with its whole document, if `user` may see it.
pub async fn invoice(db: &Db, user: &User, id: &str) -> DeskResult<(InvoiceView, IssuedDocument)> {
    let own = own_accounts(db, user).await?;
    let mut conn = db.pool.acquire().await?;
    let invoice = read::invoice(&mut conn, id).await?;
    // Checked before the document is read: another account's invoice is not even loaded.
    if let Some(own) = own {
        if !own.contains(&invoice.billing_account) || invoice.status != "issued" {
            return Err(DeskError::not_found("invoice", id));
        }
    }
    let document = read::stored_document(&mut conn, &invoice).await?;
    Ok((invoice, document))
}

/// The UBL and PDF forms of a visible invoice: only issued documents have them.
pub fn files_allowed(invoice: &InvoiceView) -> DeskResult<()> {
    if invoice.status != "issued" {
        return Err(DeskError::Conflict(format!(
            "invoice {} is {}: only issued documents have a UBL or PDF form",
            invoice.id, invoice.status
        )));
    }
    Ok(())
}

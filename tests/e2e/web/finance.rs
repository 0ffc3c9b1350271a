//! Finance's pages through the router: billing runs, invoices, schedules.

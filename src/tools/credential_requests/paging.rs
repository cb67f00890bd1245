//! Paging of credential-requests_list: Make returns one page (100 rows unless `limit` says
//! otherwise) and its `pg.total`; when rows are left, the result says where the next page
//! starts, so an organization with many requests can still see all of them.

use crate::make::credential_requests::Page;

/// Largest page credential-requests_list asks for (`pg[limit]`).
pub(super) const MAX_LIMIT: u64 = 10_000;
/// Largest `offset` accepted (JavaScript's safe integer range, like ids).
pub(super) const MAX_OFFSET: u64 = crate::tools::args::MAX_ID;

/// Where the next page starts and what to tell the model, when `pg.total` shows more rows
/// after this page. `asked_offset` stands in when Make's `pg` leaves out the offset.
pub(super) fn next_page(
    rows: usize,
    pg: Option<&Page>,
    asked_offset: Option<u64>,
) -> Option<(u64, String)> {
    let pg = pg?;
    let total = pg.total?;
    let offset = pg.offset.or(asked_offset).unwrap_or(0);
    let rows = rows as u64;
    let next = offset.saturating_add(rows);
    // No rows but a larger total: Make is not paging as expected; never point at the same page.
    if rows == 0 || next >= total {
        return None;
    }
    let message = format!(
        "Showing rows {} to {next} of {total}: {} more match. Call credential-requests_list again with the same filters and offset {next} for the next page (or filter by status or name).",
        offset + 1,
        total - next
    );
    Some((next, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(offset: Option<u64>, total: Option<u64>) -> Page {
        serde_json::from_value(serde_json::json!({"offset": offset, "total": total})).unwrap()
    }

    #[test]
    fn more_rows_point_at_the_next_offset() {
        let (next, message) = next_page(100, Some(&pg(Some(0), Some(250))), None).unwrap();
        assert_eq!(next, 100);
        assert!(
            message.starts_with("Showing rows 1 to 100 of 250: 150 more match.")
                && message.contains("offset 100"),
            "{message}"
        );
        assert_eq!(next_page(50, Some(&pg(Some(200), Some(250))), None), None);
        assert_eq!(
            next_page(10, Some(&pg(None, Some(30))), Some(10)).map(|n| n.0),
            Some(20)
        );
    }

    #[test]
    fn no_total_no_rows_or_no_pg_claim_nothing() {
        assert_eq!(next_page(100, Some(&pg(Some(0), None)), None), None);
        assert_eq!(next_page(0, Some(&pg(Some(0), Some(5))), None), None);
        assert_eq!(next_page(3, None, None), None);
    }
}

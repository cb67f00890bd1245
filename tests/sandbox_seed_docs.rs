//! docs/sandbox.md's "The sandbox's seed data" table and its mentions of the sandbox's teams
//! and port say what `sandbox::seed` seeds: the constants are the one statement of these facts,
//! and the page cannot drift from them.
#![cfg(feature = "sandbox")]

use make_sandbox::SUBCOMMAND_PORT;
use make_sandbox::seed::{
    CONNECTIONS, DEFAULT_TEAM, FOREIGN_TEAM, KEYS, OWN_TEAMS, PEOPLE, PEOPLE_PASSWORD, REQUESTS,
    SeedItem, TEAMS,
};

const README: &str = include_str!("../docs/sandbox.md");

/// One row of the table: kind, id, type, team, name (backticks removed; notes left out).
type Row = (String, String, String, String, String);

/// The page with every run of whitespace (line breaks included) as one space.
fn flat_readme() -> String {
    README.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The section's body, up to the next heading.
fn seed_section() -> &'static str {
    let start = README
        .find("### The sandbox's seed data\n")
        .expect("docs/sandbox.md has the seed-data section");
    let body = &README[start..];
    let body = &body[body.find('\n').unwrap() + 1..];
    body.find("\n#").map_or(body, |end| &body[..end])
}

fn readme_rows() -> Vec<Row> {
    let mut rows: Vec<Row> = seed_section()
        .lines()
        .filter(|l| l.starts_with('|'))
        .skip(2) // the header and its separator
        .map(|line| {
            let cells: Vec<String> = line
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().trim_matches('`').to_string())
                .collect();
            assert_eq!(cells.len(), 6, "six columns: {line}");
            let [kind, id, ty, team, name, _notes] = <[String; 6]>::try_from(cells).unwrap();
            (kind, id, ty, team, name)
        })
        .collect();
    rows.sort();
    rows
}

fn row(kind: &str, id: impl ToString, ty: &str, team: u64, name: &str) -> Row {
    (
        kind.into(),
        id.to_string(),
        ty.into(),
        team.to_string(),
        name.into(),
    )
}

fn seeded_rows() -> Vec<Row> {
    let item =
        |kind: &'static str| move |i: &SeedItem| row(kind, i.id, i.type_name, i.team_id, i.name);
    let mut rows: Vec<Row> = TEAMS
        .iter()
        .map(|t| row("team", t.id, "", t.id, t.name))
        .chain(CONNECTIONS.iter().map(item("connection")))
        .chain(KEYS.iter().map(item("key")))
        .chain(
            REQUESTS
                .iter()
                .map(|r| row("credential request", r.id, "", r.team_id, r.name)),
        )
        .collect();
    rows.sort();
    rows
}

#[test]
fn the_seed_table_lists_exactly_what_is_seeded() {
    let (readme, seeded) = (readme_rows(), seeded_rows());
    let missing: Vec<&Row> = seeded.iter().filter(|r| !readme.contains(r)).collect();
    let unknown: Vec<&Row> = readme.iter().filter(|r| !seeded.contains(r)).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "docs/sandbox.md seed table drifted from sandbox::seed.\nnot on the page: {missing:#?}\nnot seeded: {unknown:#?}"
    );
}

#[test]
fn the_seed_table_names_each_requests_credential() {
    let section = seed_section();
    for r in REQUESTS.iter().filter(|r| r.team_id != FOREIGN_TEAM) {
        assert!(section.contains(r.credential_id), "{}", r.credential_id);
    }
}

#[test]
fn the_page_states_the_teams_default_team_and_port_as_seeded() {
    let [first, second] = OWN_TEAMS;
    let flat = flat_readme();
    for fact in [
        // The introduction and the seed-data section.
        format!("(teams {first} and {second},"),
        format!(
            "Teams {first} and {second} (organization 1) are yours, and the tools use team {DEFAULT_TEAM}"
        ),
        format!("team {FOREIGN_TEAM} belongs to another organization"),
        // The client quickstart.
        format!("default team {DEFAULT_TEAM}, or `--team {second}`"),
        // The subcommand's form and the seed-data section.
        format!("make-credentials-mcp sandbox [--port {SUBCOMMAND_PORT}]"),
        format!("on port {SUBCOMMAND_PORT} unless `--port`"),
    ] {
        assert!(flat.contains(&fact), "docs/sandbox.md should say: {fact}");
    }
}

#[test]
fn the_people_table_lists_the_seeded_people() {
    let flat = flat_readme();
    for p in PEOPLE {
        let teams: Vec<String> = p
            .team_ids
            .iter()
            .map(|id| {
                let name = TEAMS.iter().find(|t| t.id == *id).unwrap().name;
                format!("{id} ({name})")
            })
            .collect();
        let row = format!(
            "| `{}` | {} | {} | {} | {} |",
            p.username,
            p.user_id,
            p.name,
            p.email,
            teams.join(", ")
        );
        assert!(
            flat.contains(&row),
            "docs/sandbox.md should have the row: {row}"
        );
    }
    let password = format!("with the password `{PEOPLE_PASSWORD}`");
    assert!(
        flat.contains(&password),
        "docs/sandbox.md should say: {password}"
    );
}

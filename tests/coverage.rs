//! Keeps `tests/README.md`, the coverage table, true to the contracts: every RPC has a row,
//! and every cell names tests that exist in a file that calls that RPC, or says why the
//! column does not apply, or says `missing`. The missing cells are printed, so the holes stay visible.

// A failed check is a failed test with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;

use prost::Message as _;

/// The RPCs of the contracts, as `Service/Method`.
fn rpcs() -> Vec<String> {
    let set = prost_types::FileDescriptorSet::decode(crm_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut names = Vec::new();
    for file in &set.file {
        if !file.package().starts_with("crm.") {
            continue;
        }
        for service in &file.service {
            for method in &service.method {
                names.push(format!("{}/{}", service.name(), method.name()));
            }
        }
    }
    names
}

/// `GetContact` → `get_contact`, as the generated clients name it.
fn snake(method: &str) -> String {
    let mut out = String::new();
    for (i, c) in method.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn the_coverage_table_follows_the_contracts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let table = std::fs::read_to_string(dir.join("README.md")).unwrap();
    let mut rows: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in table
        .lines()
        .filter(|l| l.starts_with("| ") && l.contains("Service/"))
    {
        let cells: Vec<String> = line
            .trim_matches('|')
            .split(" | ")
            .map(|c| c.trim().replace('`', ""))
            .collect();
        assert_eq!(cells.len(), 6, "six columns: {line}");
        assert!(
            rows.insert(cells[0].clone(), cells[1..].to_vec()).is_none(),
            "{} has two rows",
            cells[0]
        );
    }
    let contracts = rpcs();
    for rpc in &contracts {
        assert!(
            rows.contains_key(rpc),
            "{rpc} has no row in tests/README.md"
        );
    }
    let mut missing = Vec::new();
    for (rpc, cells) in &rows {
        assert!(
            contracts.contains(rpc),
            "{rpc} is in the table but not in the contracts"
        );
        let method = snake(rpc.split('/').nth(1).unwrap());
        for (column, cell) in cells.iter().enumerate() {
            if cell == "missing" {
                missing.push(format!("{rpc} (column {})", column + 1));
                continue;
            }
            if let Some(reason) = cell.strip_prefix("n/a:") {
                assert!(!reason.trim().is_empty(), "{rpc}: n/a needs a reason");
                continue;
            }
            for reference in cell.split(", ") {
                let (file, test) = reference
                    .split_once("::")
                    .unwrap_or_else(|| panic!("{rpc}: `{reference}` is not file::test"));
                let source = std::fs::read_to_string(dir.join(format!("{file}.rs")))
                    .unwrap_or_else(|_| panic!("{rpc}: no tests/{file}.rs"));
                assert!(
                    source.contains(&format!("fn {test}(")),
                    "{rpc}: tests/{file}.rs has no fn {test}"
                );
                // Directly, through a helper of the same name that takes the caller, or
                // through a `call!(client, method, request)` table.
                let calls = source.contains(&format!(".{method}("))
                    || source.contains(&format!("{method}(&"))
                    || source.contains(&format!(", {method},"))
                    || source.lines().any(|l| l.trim() == format!("{method},"));
                assert!(calls, "{rpc}: tests/{file}.rs never calls {method}");
            }
        }
    }
    eprintln!("coverage: {} cells missing", missing.len());
    for hole in &missing {
        eprintln!("  missing: {hole}");
    }
    // Contacts and identity are complete; a new service may start with holes, listed above.
    let complete = ["ContactsService/", "AuthService/", "IdentityService/"];
    let holes: Vec<&String> = missing
        .iter()
        .filter(|m| complete.iter().any(|c| m.starts_with(c)))
        .collect();
    assert!(
        holes.is_empty(),
        "contacts and identity have holes: {holes:?}"
    );
}

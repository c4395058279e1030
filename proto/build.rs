//! Compiles every .proto under `crm/` with protox (pure Rust), so no system protoc is needed;
//! writes the descriptor set that server reflection serves (custom options included); and
//! generates, from each RPC's `(crm.common.v1.access)` option, the table of who may call it.
//! An RPC without that option fails the build.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use prost_reflect::{DescriptorPool, DynamicMessage, Value};

type BuildError = Box<dyn std::error::Error>;

fn main() -> Result<(), BuildError> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    collect_protos(&root.join("crm"), &mut files)?;
    files.sort();
    // tonic-prost-build no longer prints rerun-if-changed itself. The directory is watched
    // too, so a new contract file rebuilds.
    println!("cargo:rerun-if-changed={}", root.join("crm").display());
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }

    let mut compiler = protox::Compiler::new([root])?;
    compiler
        .include_source_info(true)
        .include_imports(true)
        .open_files(&files)?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("crm_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    std::fs::write(
        out_dir.join("access.rs"),
        access_table(&compiler.descriptor_pool())?,
    )?;
    std::fs::write(
        out_dir.join("events.rs"),
        domain_events(&compiler.descriptor_pool())?,
    )?;
    std::fs::write(
        out_dir.join("imports.rs"),
        import_messages(&compiler.descriptor_pool())?,
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}

/// `pub fn of(path) -> Option<Access>` over every RPC of the `crm.` packages.
fn access_table(pool: &DescriptorPool) -> Result<String, BuildError> {
    let option = pool
        .get_extension_by_name("crm.common.v1.access")
        .ok_or("crm/common/v1/access.proto must define the `access` method option")?;
    let mut arms = String::new();
    let mut whole_stream = Vec::new();
    let mut missing = Vec::new();
    for service in pool.services() {
        if !service.full_name().starts_with("crm.") {
            continue;
        }
        for method in service.methods() {
            let path = format!("/{}/{}", service.full_name(), method.name());
            if method.is_client_streaming() && !method.is_server_streaming() {
                whole_stream.push(format!("{path:?}"));
            }
            let options = method.options();
            if !options.has_extension(&option) {
                missing.push(path);
                continue;
            }
            let access = match options.get_extension(&option).as_ref() {
                Value::Message(access) => rust_access(&path, access)?,
                _ => return Err(format!("{path}: the access option is not a message").into()),
            };
            writeln!(arms, "        {path:?} => Some({access}),")?;
        }
    }
    if !missing.is_empty() {
        return Err(format!(
            "these RPCs declare no `option (crm.common.v1.access)`: {}",
            missing.join(", ")
        )
        .into());
    }
    Ok(format!(
        "/// Who may call the RPC at `path` (`/package.Service/Method`), as its contract declares;\n\
         /// `None` for a path that names no RPC of the suite.\n\
         pub fn of(path: &str) -> Option<Access> {{\n    match path {{\n{arms}        _ => None,\n    }}\n}}\n\n\
         /// Whether the RPC at `path` answers only after reading the client's whole stream (an\n\
         /// import, say), so its deadline must allow for the upload.\n\
         pub fn reads_whole_stream(path: &str) -> bool {{\n    {}\n}}\n",
        if whole_stream.is_empty() {
            "let _ = path;\n    false".to_owned()
        } else {
            format!("matches!(path, {})", whole_stream.join(" | "))
        }
    ))
}

/// `impl DomainEvent` for every `<Service>Event` message of a `crm.<service>.v1` package: its
/// stream is the package, and it must carry the stamps every event carries.
fn domain_events(pool: &DescriptorPool) -> Result<String, BuildError> {
    const STAMPS: [&str; 5] = ["event_id", "tenant_id", "type", "actor_id", "occur_time"];
    let mut out = String::new();
    for message in pool.all_messages() {
        let package = message.package_name();
        if !package.starts_with("crm.") || !message.name().ends_with("Event") {
            continue;
        }
        if message.parent_message().is_some() {
            continue;
        }
        if let Some(missing) = STAMPS
            .iter()
            .find(|f| message.get_field_by_name(f).is_none())
        {
            return Err(format!(
                "{}: a domain event needs the field `{missing}` (every event carries {})",
                message.full_name(),
                STAMPS.join(", ")
            )
            .into());
        }
        let rust_path = format!("crate::{}::{}", package.replace('.', "::"), message.name());
        custom_field_events(&mut out, &message, &rust_path)?;
        writeln!(
            out,
            "impl crate::DomainEvent for {rust_path} {{\n    \
             const STREAM: &'static str = {package:?};\n\n    \
             fn type_name(&self) -> &'static str {{\n        self.r#type().as_str_name()\n    }}\n\n    \
             fn event_id(&self) -> &str {{\n        &self.event_id\n    }}\n\n    \
             fn stamp(&mut self, stamp: crate::EventStamp) {{\n        \
             self.event_id = stamp.event_id;\n        \
             self.tenant_id = stamp.tenant_id;\n        \
             self.actor_id = stamp.actor_id;\n        \
             self.occur_time = Some(stamp.occur_time);\n    }}\n}}\n"
        )?;
    }
    Ok(out)
}

/// `impl CustomFieldEvent` for an event that announces custom field changes: one with a
/// `custom_field` subject and the `CUSTOM_FIELD_CREATED`, `_UPDATED` and `_DELETED` types.
fn custom_field_events(
    out: &mut String,
    message: &prost_reflect::MessageDescriptor,
    rust_path: &str,
) -> Result<(), BuildError> {
    if message.get_field_by_name("custom_field").is_none() {
        return Ok(());
    }
    let Some(prost_reflect::Kind::Enum(types)) =
        message.get_field_by_name("type").map(|f| f.kind())
    else {
        return Err(format!("{}: `type` must be an enum", message.full_name()).into());
    };
    let enum_path = format!("{rust_path}Type");
    let mut variants = Vec::new();
    for change in ["CREATED", "UPDATED", "DELETED"] {
        let suffix = format!("_CUSTOM_FIELD_{change}");
        let value = types
            .values()
            .find(|v| v.name().ends_with(&suffix))
            .ok_or_else(|| {
                format!(
                    "{}: an event with a `custom_field` subject needs a type ending in {suffix}",
                    message.full_name()
                )
            })?;
        let variant = format!("CustomField{}{}", &change[..1], change[1..].to_lowercase());
        variants.push((value.number(), variant));
    }
    let module = rust_path
        .rsplit_once("::")
        .map(|(m, _)| m)
        .unwrap_or_default();
    let subject = format!("{module}::{}::Subject", snake_case(message.name()));
    writeln!(
        out,
        "impl crate::CustomFieldEvent for {rust_path} {{\n    \
         fn custom_field(change: crate::DefinitionChange, definition: crate::common::CustomFieldDefinition) -> Self {{\n        \
         let kind = match change {{\n            \
         crate::DefinitionChange::Created => {enum_path}::{},\n            \
         crate::DefinitionChange::Updated => {enum_path}::{},\n            \
         crate::DefinitionChange::Deleted => {enum_path}::{},\n        }};\n        \
         Self {{ r#type: kind as i32, subject: Some({subject}::CustomField(definition)), ..Default::default() }}\n    }}\n}}\n",
        variants[0].1, variants[1].1, variants[2].1
    )?;
    Ok(())
}

/// `ContactsEvent` → `contacts_event`, as prost names a message's module.
fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
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

/// `impl ImportRequest` / `impl ImportResponse` for every service's `ImportRecordsRequest`
/// and `ImportRecordsResponse`, so the shared import stream reads and answers them; a
/// service whose messages lack the shared fields does not build.
fn import_messages(pool: &DescriptorPool) -> Result<String, BuildError> {
    const REQUEST: [&str; 3] = ["options", "csv", "rows"];
    const RESPONSE: [&str; 7] = [
        "rows", "created", "updated", "skipped", "failed", "results", "dry_run",
    ];
    let mut out = String::new();
    for message in pool.all_messages() {
        let package = message.package_name();
        let shared = match message.name() {
            "ImportRecordsRequest" => &REQUEST[..],
            "ImportRecordsResponse" => &RESPONSE[..],
            _ => continue,
        };
        if !package.starts_with("crm.") || message.parent_message().is_some() {
            continue;
        }
        if let Some(missing) = shared
            .iter()
            .find(|f| message.get_field_by_name(f).is_none())
        {
            return Err(format!(
                "{}: an import message needs the field `{missing}` ({})",
                message.full_name(),
                shared.join(", ")
            )
            .into());
        }
        let module = package.replace('.', "::");
        let rust_path = format!("crate::{module}::{}", message.name());
        if message.name() == "ImportRecordsRequest" {
            writeln!(
                out,
                "impl crate::ImportRequest for {rust_path} {{\n    \
                 fn into_part(self) -> Option<crate::ImportPart> {{\n        \
                 use crate::{module}::import_records_request::Part;\n        \
                 Some(match self.part? {{\n            \
                 Part::Options(options) => crate::ImportPart::Options(options),\n            \
                 Part::Csv(bytes) => crate::ImportPart::Csv(bytes),\n            \
                 Part::Rows(rows) => crate::ImportPart::Rows(rows),\n        }})\n    }}\n}}\n"
            )?;
        } else {
            writeln!(
                out,
                "impl crate::ImportResponse for {rust_path} {{\n    \
                 fn from_summary(s: crate::ImportTotals) -> Self {{\n        \
                 Self {{ rows: s.rows, created: s.created, updated: s.updated, \
                 skipped: s.skipped, failed: s.failed, results: s.results, dry_run: s.dry_run }}\n    }}\n}}\n"
            )?;
        }
    }
    Ok(out)
}

/// The Rust value of one RPC's access option, which must say exactly one thing.
fn rust_access(path: &str, access: &DynamicMessage) -> Result<String, BuildError> {
    let text = |name: &str| match access.get_field_by_name(name).as_deref() {
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let flag = |name: &str| {
        matches!(
            access.get_field_by_name(name).as_deref(),
            Some(Value::Bool(true))
        )
    };
    let any_of: Vec<String> = match access.get_field_by_name("any_of").as_deref() {
        Some(Value::List(values)) => values
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    let permission = text("permission");
    for name in any_of.iter().chain(std::iter::once(&permission)) {
        let well_formed = name.split('.').all(|part| {
            !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        });
        if !name.is_empty() && (!well_formed || name.split('.').count() != 3) {
            return Err(format!(
                "{path}: `{name}` is not a permission such as contacts.contacts.read"
            )
            .into());
        }
    }
    let said = [
        !permission.is_empty(),
        !any_of.is_empty(),
        flag("authenticated"),
        flag("public"),
    ];
    if said.iter().filter(|s| **s).count() != 1 {
        return Err(format!(
            "{path}: the access option must set exactly one of permission, any_of, authenticated, public"
        )
        .into());
    }
    Ok(if !permission.is_empty() {
        format!("Access::Permission({permission:?})")
    } else if !any_of.is_empty() {
        format!("Access::AnyOf(&{any_of:?})")
    } else if flag("authenticated") {
        "Access::Authenticated".to_owned()
    } else {
        "Access::Public".to_owned()
    })
}

fn collect_protos(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            out.push(path);
        }
    }
    Ok(())
}

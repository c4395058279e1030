//! gRPC server reflection (v1 and v1alpha) over the suite's descriptor sets.
//!
//! A file is answered together with every file it imports, transitively, that the stream has
//! not sent yet, as the reflection protocol allows: a client that does not fetch imports by
//! name (many do not) still resolves `crm.common.v1` and the well-known types. Files are served
//! as their original bytes, so custom options survive. Failures are `ErrorResponse` messages
//! on the stream, which stays open for the next request.

use std::collections::{HashMap, HashSet};
use std::pin::Pin;
use std::sync::Arc;

use prost::Message as _;
use prost_types::{DescriptorProto, EnumDescriptorProto, FileDescriptorProto};
use tokio_stream::{Stream, StreamExt as _};
use tonic::{Code, Request, Response, Status, Streaming};

/// One file of a descriptor set.
#[derive(Debug)]
struct File {
    raw: Vec<u8>,
    dependencies: Vec<String>,
}

/// The files and symbols reflection answers from.
#[derive(Debug, Default)]
pub struct Descriptors {
    files: HashMap<String, File>,
    symbols: HashMap<String, String>,
    services: Vec<String>,
}

/// A `FileDescriptorSet` read with its files left as bytes: a message field and a bytes
/// field share one wire form, so the files' original bytes come out as they were encoded.
#[derive(Clone, PartialEq, prost::Message)]
struct RawSet {
    /// `repeated FileDescriptorProto file = 1`, undecoded.
    #[prost(bytes = "vec", repeated, tag = "1")]
    file: Vec<Vec<u8>>,
}

fn qualified(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

impl Descriptors {
    /// Indexes encoded descriptor sets; a later set's file of the same name is ignored.
    pub fn new(sets: &[&[u8]]) -> Result<Self, prost::DecodeError> {
        let mut index = Self::default();
        for set in sets {
            for raw in RawSet::decode(*set)?.file {
                let file = FileDescriptorProto::decode(raw.as_slice())?;
                let name = file.name().to_owned();
                if index.files.contains_key(&name) {
                    continue;
                }
                index.index_file(&file);
                index.files.insert(
                    name,
                    File {
                        raw,
                        dependencies: file.dependency.clone(),
                    },
                );
            }
        }
        index.services.sort();
        Ok(index)
    }

    fn index_file(&mut self, file: &FileDescriptorProto) {
        let name = file.name().to_owned();
        let package = file.package();
        for service in &file.service {
            let service_name = qualified(package, service.name());
            for method in &service.method {
                self.symbols
                    .insert(qualified(&service_name, method.name()), name.clone());
            }
            self.symbols.insert(service_name.clone(), name.clone());
            self.services.push(service_name);
        }
        for message in &file.message_type {
            self.index_message(&name, package, message);
        }
        for en in &file.enum_type {
            self.index_enum(&name, package, en);
        }
        for extension in &file.extension {
            self.symbols
                .insert(qualified(package, extension.name()), name.clone());
        }
    }

    fn index_message(&mut self, file: &str, prefix: &str, message: &DescriptorProto) {
        let message_name = qualified(prefix, message.name());
        for field in &message.field {
            self.symbols
                .insert(qualified(&message_name, field.name()), file.to_owned());
        }
        for nested in &message.nested_type {
            self.index_message(file, &message_name, nested);
        }
        for en in &message.enum_type {
            self.index_enum(file, &message_name, en);
        }
        self.symbols.insert(message_name, file.to_owned());
    }

    fn index_enum(&mut self, file: &str, prefix: &str, en: &EnumDescriptorProto) {
        let enum_name = qualified(prefix, en.name());
        // Enum values are scoped like their enum's siblings (C++ rules).
        for value in &en.value {
            self.symbols
                .insert(qualified(prefix, value.name()), file.to_owned());
        }
        self.symbols.insert(enum_name, file.to_owned());
    }

    /// The file `name` and every file it imports, transitively, that `sent` does not hold
    /// yet (the requested file always), first the file itself; `sent` records them.
    fn with_imports(&self, name: &str, sent: &mut HashSet<String>) -> Option<Vec<Vec<u8>>> {
        let file = self.files.get(name)?;
        let mut out = vec![file.raw.clone()];
        sent.insert(name.to_owned());
        let mut stack: Vec<&str> = file.dependencies.iter().map(String::as_str).collect();
        while let Some(dependency) = stack.pop() {
            if !sent.insert(dependency.to_owned()) {
                continue;
            }
            if let Some(file) = self.files.get(dependency) {
                out.push(file.raw.clone());
                stack.extend(file.dependencies.iter().map(String::as_str));
            }
        }
        Some(out)
    }

    /// The answer to one request, as either protocol version states it.
    fn answer(&self, request: Asked, sent: &mut HashSet<String>) -> Answer {
        match request {
            Asked::File(name) => self
                .with_imports(&name, sent)
                .map(Answer::Files)
                .unwrap_or_else(|| Answer::NotFound(format!("file `{name}` not found"))),
            Asked::Symbol(symbol) => match self.symbols.get(&symbol) {
                Some(file) => self
                    .with_imports(&file.clone(), sent)
                    .map(Answer::Files)
                    .unwrap_or_else(|| Answer::NotFound(format!("symbol `{symbol}` not found"))),
                None => Answer::NotFound(format!("symbol `{symbol}` not found")),
            },
            Asked::Extension => Answer::NotFound("no extensions are registered".to_owned()),
            Asked::ExtensionNumbers(base) => Answer::ExtensionNumbers(base),
            Asked::Services => Answer::Services(self.services.clone()),
            Asked::Nothing => Answer::Invalid,
        }
    }
}

/// A request, in either protocol version.
enum Asked {
    File(String),
    Symbol(String),
    Extension,
    ExtensionNumbers(String),
    Services,
    Nothing,
}

/// An answer, in either protocol version.
enum Answer {
    Files(Vec<Vec<u8>>),
    Services(Vec<String>),
    ExtensionNumbers(String),
    NotFound(String),
    Invalid,
}

type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// Implements one protocol version's service over [`Descriptors`]; the two versions' messages
/// have the same shape in different packages.
macro_rules! reflection_version {
    ($module:ident, $pb:path) => {
        /// Server reflection of this protocol version.
        pub mod $module {
            use super::*;
            use pb::server_reflection_request::MessageRequest;
            use pb::server_reflection_response::MessageResponse;
            use $pb as pb;

            /// The reflection service.
            #[derive(Debug, Clone)]
            pub struct Reflection(pub Arc<Descriptors>);

            fn asked(request: Option<MessageRequest>) -> Asked {
                match request {
                    Some(MessageRequest::FileByFilename(name)) => Asked::File(name),
                    Some(MessageRequest::FileContainingSymbol(symbol)) => Asked::Symbol(symbol),
                    Some(MessageRequest::FileContainingExtension(_)) => Asked::Extension,
                    Some(MessageRequest::AllExtensionNumbersOfType(base)) => {
                        Asked::ExtensionNumbers(base)
                    }
                    Some(MessageRequest::ListServices(_)) => Asked::Services,
                    None => Asked::Nothing,
                }
            }

            fn response(answer: Answer) -> MessageResponse {
                let error = |code: Code, message: String| {
                    MessageResponse::ErrorResponse(pb::ErrorResponse {
                        error_code: code as i32,
                        error_message: message,
                    })
                };
                match answer {
                    Answer::Files(files) => {
                        MessageResponse::FileDescriptorResponse(pb::FileDescriptorResponse {
                            file_descriptor_proto: files,
                        })
                    }
                    Answer::Services(names) => {
                        MessageResponse::ListServicesResponse(pb::ListServiceResponse {
                            service: names
                                .into_iter()
                                .map(|name| pb::ServiceResponse { name })
                                .collect(),
                        })
                    }
                    // Some clients (grpcurl among them) fail when this errs.
                    Answer::ExtensionNumbers(base_type_name) => {
                        MessageResponse::AllExtensionNumbersResponse(pb::ExtensionNumberResponse {
                            base_type_name,
                            extension_number: Vec::new(),
                        })
                    }
                    Answer::NotFound(message) => error(Code::NotFound, message),
                    Answer::Invalid => {
                        error(Code::InvalidArgument, "the request asks nothing".to_owned())
                    }
                }
            }

            #[tonic::async_trait]
            impl pb::server_reflection_server::ServerReflection for Reflection {
                type ServerReflectionInfoStream = ResponseStream<pb::ServerReflectionResponse>;

                async fn server_reflection_info(
                    &self,
                    request: Request<Streaming<pb::ServerReflectionRequest>>,
                ) -> Result<Response<Self::ServerReflectionInfoStream>, Status> {
                    let descriptors = Arc::clone(&self.0);
                    let mut sent = HashSet::new();
                    let answers = request.into_inner().map(move |asked_for| {
                        let asked_for = asked_for?;
                        let answer =
                            descriptors.answer(asked(asked_for.message_request.clone()), &mut sent);
                        Ok(pb::ServerReflectionResponse {
                            valid_host: asked_for.host.clone(),
                            original_request: Some(asked_for),
                            message_response: Some(response(answer)),
                        })
                    });
                    Ok(Response::new(Box::pin(answers)))
                }
            }

            /// The tonic service.
            pub fn server(
                descriptors: Arc<Descriptors>,
            ) -> pb::server_reflection_server::ServerReflectionServer<Reflection> {
                pb::server_reflection_server::ServerReflectionServer::new(Reflection(descriptors))
            }
        }
    };
}

reflection_version!(v1, tonic_reflection::pb::v1);
reflection_version!(v1alpha, tonic_reflection::pb::v1alpha);

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> Descriptors {
        Descriptors::new(&[
            crm_proto::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
        ])
        .unwrap()
    }

    #[test]
    fn a_symbol_comes_with_every_import_once() {
        let index = index();
        let mut sent = HashSet::new();
        let Answer::Files(files) = index.answer(
            Asked::Symbol("crm.contacts.v1.ContactsService".into()),
            &mut sent,
        ) else {
            panic!("the service is known");
        };
        let names: Vec<String> = files
            .iter()
            .map(|f| {
                FileDescriptorProto::decode(f.as_slice())
                    .unwrap()
                    .name()
                    .to_owned()
            })
            .collect();
        assert_eq!(names[0], "crm/contacts/v1/contacts_service.proto");
        for needed in [
            "crm/common/v1/common.proto",
            "google/protobuf/timestamp.proto",
        ] {
            assert!(names.iter().any(|n| n == needed), "{needed} in {names:?}");
        }
        // On the same stream, what was sent is not sent again.
        let Answer::Files(again) =
            index.answer(Asked::Symbol("crm.common.v1.AuditEntry".into()), &mut sent)
        else {
            panic!("the message is known");
        };
        assert_eq!(again.len(), 1, "only the asked file itself");
    }

    #[test]
    fn methods_fields_and_nested_symbols_resolve() {
        let index = index();
        for symbol in [
            "crm.contacts.v1.ContactsService.GetContact",
            "crm.contacts.v1.Contact.display_name",
            "grpc.health.v1.HealthCheckResponse.ServingStatus",
        ] {
            assert!(index.symbols.contains_key(symbol), "{symbol}");
        }
        let mut sent = HashSet::new();
        assert!(matches!(
            index.answer(Asked::Symbol("crm.nope.v1.Nothing".into()), &mut sent),
            Answer::NotFound(_)
        ));
        assert!(index.services.iter().any(|s| s == "grpc.health.v1.Health"));
    }
}

//! The records wing's typed test client: FHIR requests as a departmental system sends them
//! (a bearer token) or as a clinician's browser does (a [`Person`]'s session and CSRF token).

use crate::access::Person;
use crate::{Reply, TestServer};

/// Who sends a FHIR request.
pub enum As<'a> {
    /// A system client's (or the operator's) bearer token.
    Bearer(&'a str),
    /// A signed-in person.
    Person(&'a Person<'a>),
}

/// A FHIR client of one server, acting as one caller.
pub struct Fhir<'a> {
    server: &'a TestServer,
    caller: As<'a>,
}

impl<'a> Fhir<'a> {
    /// A client of `server` acting as `caller`.
    pub fn new(server: &'a TestServer, caller: As<'a>) -> Fhir<'a> {
        Fhir { server, caller }
    }

    /// A FHIR request (`path` under the server, `/fhir/…`) with these headers; a body is sent
    /// as `application/fhir+json`.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        extra: &[(&str, &str)],
        body: Option<&str>,
    ) -> Reply {
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if body.is_some() {
            headers.push(("content-type", "application/fhir+json"));
        }
        headers.extend_from_slice(extra);
        match &self.caller {
            As::Bearer(token) => {
                let auth = format!("Bearer {token}");
                headers.push(("authorization", auth.as_str()));
                self.server
                    .send(method, path, &headers, body.map(str::as_bytes))
            }
            As::Person(person) => person.send(method, path, &headers, body.map(str::as_bytes)),
        }
    }

    /// `POST /fhir/{kind}`.
    pub fn create(&self, kind: &str, body: &str) -> Reply {
        self.send("POST", &format!("/fhir/{kind}"), &[], Some(body))
    }

    /// `GET /fhir/{kind}/{id}`.
    pub fn read(&self, kind: &str, id: &str) -> Reply {
        self.send("GET", &format!("/fhir/{kind}/{id}"), &[], None)
    }

    /// `GET /fhir/{kind}?{query}`.
    pub fn search(&self, kind: &str, query: &str) -> Reply {
        self.send("GET", &format!("/fhir/{kind}?{query}"), &[], None)
    }
}

/// One FHIR request with a bearer token (the shape most tests need in one line).
pub fn send(
    server: &TestServer,
    token: &str,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: Option<&str>,
) -> Reply {
    Fhir::new(server, As::Bearer(token)).send(method, path, extra, body)
}

impl Person<'_> {
    /// A FHIR request with the session (and its CSRF token) and these headers.
    pub fn fhir(
        &self,
        method: &str,
        path: &str,
        extra: &[(&str, &str)],
        body: Option<&str>,
    ) -> Reply {
        Fhir::new(self.server(), As::Person(self)).send(method, path, extra, body)
    }
}

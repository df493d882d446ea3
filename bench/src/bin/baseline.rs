//! The baseline of the HTTP benchmarks: the least an HTTP server on hyper can do — answer every
//! request with a fixed JSON body the size of a decision — measured in the same run as mscommerce.

use std::convert::Infallible;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

const BODY: &str = r#"{"decision":"Allow","reason":"The purchase of Power BI Pro is allowed: self-service purchase is Enabled for it in this tenant.","reasonCode":"Allowed","policyValue":"Enabled","productId":"CFQ7TTC0H9MP"}"#;

/// `/batch` answers what a batch of 100 decisions weighs; anything else one decision.
async fn answer(
    request: Request<Incoming>,
    batch: Bytes,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let is_batch = request.uri().path() == "/batch";
    // Read the body, as a real server must, then answer.
    let _ = request.into_body().collect().await;
    let body = if is_batch {
        batch
    } else {
        Bytes::from_static(BODY.as_bytes())
    };
    Ok(Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(body))
        .expect("a fixed response is valid"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("baseline listening on http://{}", listener.local_addr()?);
    let batch = Bytes::from(format!(
        r#"{{"responses":[{}]}}"#,
        vec![BODY; 100].join(",")
    ));
    loop {
        let (stream, _) = listener.accept().await?;
        let batch = batch.clone();
        tokio::spawn(async move {
            let service = service_fn(move |r| answer(r, batch.clone()));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

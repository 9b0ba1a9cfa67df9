//! The root documents, `/` and `/v3`: where the API and the UAA to log in with are.

use droplet_api::{Link, RootDocument, RootLinks, V3RootDocument, V3RootLinks};

use crate::context::ServerContext;

pub fn root_document(ctx: &ServerContext) -> RootDocument {
    let login = ctx.config.login_url().map(|href| Link { href, method: None });
    RootDocument {
        links: RootLinks {
            self_: Link { href: ctx.url(""), method: None },
            cloud_controller_v2: None,
            cloud_controller_v3: Link { href: ctx.url("/v3"), method: None },
            login: login.clone(),
            uaa: login,
        },
    }
}

pub fn v3_root_document(ctx: &ServerContext) -> V3RootDocument {
    let link = |path: &str| Link { href: ctx.url(path), method: None };
    V3RootDocument {
        links: V3RootLinks {
            self_: link("/v3"),
            droplets: link("/v3/droplets"),
            jobs: link("/v3/jobs"),
        },
    }
}

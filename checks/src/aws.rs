//! AWS001 aws-identity: do the credentials work, and whose are they?

use crate::check::{explain, Check, Fix, Judged, Need, Outcome};
use crate::commands::get_caller_identity;
use crate::facts::{FactErrorKind, Facts};

pub(crate) const AWS_IDENTITY: Check = Check {
    id: "AWS001",
    slug: "aws-identity",
    title: "AWS credentials work",
    needs: &[Need::Identity],
    explain: explain!("AWS001"),
    judge: Some(aws_identity),
};

fn aws_identity(facts: &Facts) -> Judged {
    match &facts.identity {
        None => Ok(Outcome::skip("the caller identity was not looked up")),
        Some(Ok(id)) => Ok(Outcome::pass(format!("account {}, principal {}", id.account, id.arn))
            .with("account", &id.account)
            .with("arn", &id.arn)),
        Some(Err(e)) if e.kind == FactErrorKind::Credentials => Ok(Outcome::fail(format!(
            "the credentials do not work: {}",
            e.message
        ))
        .with("error", e)
        .with_fix(Fix {
            text: "Give tidbpe working credentials: environment variables, --profile NAME (after `aws sso login` for SSO profiles), or an instance role. Verify with the command below.".into(),
            commands: vec![get_caller_identity()],
        })),
        Some(Err(e)) => Ok(Outcome::unknown(e)),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::check::Status;
    use crate::facts::{Fact, FactError, Identity};
    use crate::testing::{assert_fail_cases, FailCase};

    /// Changes to the healthy world that make AWS001 fail.
    pub(crate) const FAIL_CASES: &[FailCase] = &[FailCase {
        id: "AWS001",
        name: "invalid credentials",
        expect: Status::Fail,
        mutate: |f| {
            f.identity = Some(Err(FactError::new(
                FactErrorKind::Credentials,
                Need::Identity.action(),
                "InvalidClientTokenId",
            )))
        },
    }];

    #[test]
    fn aws001_fail_cases_fail() {
        assert_fail_cases(FAIL_CASES);
    }

    fn judge(identity: Option<Fact<Identity>>) -> Status {
        let facts = Facts {
            identity,
            ..Facts::default()
        };
        AWS_IDENTITY.run(&facts).status
    }

    #[test]
    fn aws001_verdicts() {
        let ok = Identity {
            account: "123456789012".into(),
            arn: "arn:aws:iam::123456789012:user/me".into(),
        };
        assert_eq!(judge(Some(Ok(ok))), Status::Pass);
        let bad = FactError::new(
            FactErrorKind::Credentials,
            "sts:GetCallerIdentity",
            "InvalidClientTokenId",
        );
        assert_eq!(judge(Some(Err(bad))), Status::Fail);
        let net = FactError::new(
            FactErrorKind::Network,
            "sts:GetCallerIdentity",
            "connection refused",
        );
        assert_eq!(judge(Some(Err(net))), Status::Unknown);
        assert_eq!(judge(None), Status::Skip);
    }
}

//! AWS001 aws-identity: do the credentials work, and whose are they?

use crate::check::{explain, Check, Fix, Judged, Need, Outcome};
use crate::commands::{get_caller_identity_as, sso_login};
use crate::facts::{FactErrorKind, Facts, SSO_TOKEN_MISSING};

pub(crate) const AWS_IDENTITY: Check = Check {
    id: "AWS001",
    slug: "aws-identity",
    title: "AWS credentials work",
    needs: &[Need::Identity],
    explain: explain!("AWS001"),
    judge: Some(aws_identity),
};

/// Missing or broken credentials are not a broken PrivateLink: the AWS
/// side could not be inspected (`unknown`), said here once with the whole
/// credential chain; the other checks cite AWS001.
fn aws_identity(facts: &Facts) -> Judged {
    match &facts.identity {
        None => Ok(Outcome::skip("the caller identity was not looked up")),
        Some(Ok(id)) => Ok(
            Outcome::pass(format!("account {}, principal {}", id.account, id.arn))
                .with("account", &id.account)
                .with("arn", &id.arn),
        ),
        Some(Err(e)) if e.kind == FactErrorKind::Credentials => {
            let profile = facts.inputs.profile.as_deref();
            let sso = e.code.as_deref() == Some(SSO_TOKEN_MISSING);
            let summary = if sso {
                "the AWS side could not be inspected: the SSO profile has no valid token (run aws sso login)"
            } else {
                "the AWS side could not be inspected: no working AWS credentials"
            };
            let mut commands = Vec::new();
            if sso {
                commands.push(sso_login(profile));
            }
            commands.push(get_caller_identity_as(profile));
            let mut unknown = Outcome::unknown(e);
            unknown.summary = summary.to_string();
            Ok(unknown.with_fix(Fix {
                text: "Give tidbpe working AWS credentials, then run it again: environment variables (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE), --profile NAME, `aws sso login --profile NAME` when an SSO profile's token is missing or expired, or an instance role on EC2. Check what AWS sees:".into(),
                commands,
            }))
        }
        Some(Err(e)) => Ok(Outcome::unknown(e)),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::check::Status;
    use crate::facts::{Fact, FactError, Identity};
    use crate::testing::{assert_fail_cases, FailCase};

    /// Changes to the healthy world that give AWS001 its worst verdict:
    /// `unknown` (credentials that do not work are not a broken link).
    pub(crate) const FAIL_CASES: &[FailCase] = &[FailCase {
        id: "AWS001",
        name: "invalid credentials",
        expect: Status::Unknown,
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

    /// No credentials: AWS001 carries the chain and the fix, once; another
    /// check cites AWS001 in a few words, without the chain.
    #[test]
    fn aws001_no_credentials_is_unknown_said_once() {
        let chain =
            "the credential provider was not enabled: no providers in chain provided credentials "
                .repeat(4);
        let mut facts = crate::testing::healthy();
        for &need in Need::ALL {
            crate::testing::fail_need(
                &mut facts,
                need,
                FactError::of_call(need, FactErrorKind::Credentials, chain.clone()),
            );
        }
        let aws001 = AWS_IDENTITY.run(&facts);
        assert_eq!(aws001.status, Status::Unknown);
        assert_eq!(aws001.evidence["error"]["message"], chain.as_str());
        let fix = aws001.fix.unwrap();
        assert!(
            fix.text.contains("--profile") && fix.text.contains("aws sso login"),
            "{}",
            fix.text
        );
        assert_eq!(fix.commands, ["aws sts get-caller-identity"]);
        let vpc001 = crate::catalog::find("VPC001").unwrap().run(&facts);
        assert_eq!(vpc001.status, Status::Unknown);
        assert!(vpc001.summary.contains("see AWS001"), "{}", vpc001.summary);
        assert!(vpc001.summary.len() < 120, "{}", vpc001.summary);
        assert!(!vpc001
            .evidence
            .values()
            .any(|v| v.to_string().contains("no providers")));
        // An SSO profile without a token: its login command, with the profile.
        let mut sso = FactError::of_call(Need::Identity, FactErrorKind::Credentials, "no token");
        sso.code = Some(SSO_TOKEN_MISSING.into());
        facts.identity = Some(Err(sso));
        facts.inputs.profile = Some("dev-sso".into());
        let f = AWS_IDENTITY.run(&facts);
        assert!(f.summary.contains("SSO"), "{}", f.summary);
        assert_eq!(
            f.fix.unwrap().commands,
            [
                "aws sso login --profile dev-sso",
                "aws sts get-caller-identity --profile dev-sso"
            ]
        );
        // A name a shell would read otherwise becomes a placeholder.
        facts.inputs.profile = Some("x;rm -rf".into());
        let f = AWS_IDENTITY.run(&facts);
        assert_eq!(
            f.fix.unwrap().commands[0],
            "aws sso login --profile PROFILE"
        );
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
        assert_eq!(judge(Some(Err(bad))), Status::Unknown);
        let net = FactError::new(
            FactErrorKind::Network,
            "sts:GetCallerIdentity",
            "connection refused",
        );
        assert_eq!(judge(Some(Err(net))), Status::Unknown);
        assert_eq!(judge(None), Status::Skip);
    }
}

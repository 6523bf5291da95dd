use super::*;
use crate::error::EXIT_INVALID_INPUT;

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn input_message(result: Result<Vec<(String, String)>>) -> String {
    match result {
        Err(e) => {
            assert_eq!(e.exit_code(), EXIT_INVALID_INPUT, "{e}");
            e.to_string()
        }
        Ok(v) => panic!("expected an input error, got {v:?}"),
    }
}

#[test]
fn template_fits_an_inline_template_body() {
    assert!(
        TEMPLATE.len() < MAX_INLINE_BYTES,
        "templates/stack.yaml is {} bytes; CreateStack takes at most {MAX_INLINE_BYTES} inline",
        TEMPLATE.len()
    );
}

#[test]
fn every_output_the_controller_needs_exists() {
    let outputs = declared_outputs().expect("the template parses");
    for name in REQUIRED_OUTPUTS {
        assert!(outputs.iter().any(|o| o == name), "no output `{name}`");
    }
}

#[test]
fn template_version_output_matches_the_code() {
    // The one output with a literal value: read it straight from the YAML.
    let expected = format!(
        "  TemplateVersion:\n    Description: Version of this template's outputs contract \
         (loadgate checks it).\n    Value: \"{TEMPLATE_VERSION}\"\n"
    );
    assert!(
        TEMPLATE.contains(&expected),
        "TemplateVersion output differs from TEMPLATE_VERSION"
    );
}

#[test]
fn every_parameter_has_a_default_so_a_bare_deploy_works() {
    let declared = declared_parameters().expect("the template parses");
    assert!(declared.len() >= 10, "{declared:?}");
    for p in declared {
        assert!(p.default.is_some(), "parameter {} has no Default", p.name);
        assert!(
            !p.description.is_empty(),
            "parameter {} has no Description",
            p.name
        );
        // A default CloudFormation would refuse would break the bare deploy.
        let default = p.default.clone().unwrap_or_default();
        let checked = parameters(&[(p.name.clone(), default.clone())]);
        assert!(
            checked.is_ok(),
            "default of {} = {default:?} rejected: {checked:?}",
            p.name
        );
    }
}

#[test]
fn the_parameters_the_docs_name_are_declared_with_their_defaults() {
    let declared = declared_parameters().expect("the template parses");
    let default = |name: &str| {
        declared
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| p.default.clone())
            .unwrap_or_else(|| panic!("no parameter {name}"))
    };
    assert_eq!(default("SubnetIds"), "");
    assert_eq!(default("SecurityGroupId"), "");
    assert_eq!(default("EgressCidr"), "0.0.0.0/0");
    assert_eq!(default("RunsRetentionDays"), "30");
    assert_eq!(default("HistoryRetentionDays"), "400");
    assert_eq!(default("LogRetentionDays"), "14");
    assert_eq!(default(REPOSITORY_PARAMETER), "loadgate");
    assert_eq!(default("AvailabilityZone1"), "");
    let log = declared.iter().find(|p| p.name == "LogRetentionDays");
    assert!(log.is_some_and(|p| p.allowed_values.contains(&"3653".to_string())));
}

#[test]
fn overrides_come_back_in_template_order() {
    let given = pairs(&[
        ("LogRetentionDays", "30"),
        ("SubnetIds", "subnet-1,subnet-2"),
    ]);
    let checked = parameters(&given).expect("valid");
    assert_eq!(
        checked,
        pairs(&[
            ("SubnetIds", "subnet-1,subnet-2"),
            ("LogRetentionDays", "30")
        ])
    );
    assert_eq!(parameters(&[]).expect("valid"), vec![]);
}

#[test]
fn unknown_parameter_is_rejected_with_the_nearest_name() {
    let message = input_message(parameters(&pairs(&[("subnetid", "subnet-1")])));
    assert!(
        message.contains("unknown stack parameter `subnetid`"),
        "{message}"
    );
    assert!(message.contains("did you mean `SubnetIds`?"), "{message}");
    assert!(
        message.contains("EgressCidr"),
        "lists the parameters: {message}"
    );

    let message = input_message(parameters(&pairs(&[("LogRetention", "7")])));
    assert!(
        message.contains("did you mean `LogRetentionDays`?"),
        "{message}"
    );

    let message = input_message(parameters(&pairs(&[("Completely", "x")])));
    assert!(!message.contains("did you mean"), "{message}");
}

#[test]
fn a_parameter_given_twice_is_rejected() {
    let given = pairs(&[("EgressCidr", "10.0.0.0/8"), ("EgressCidr", "0.0.0.0/0")]);
    let message = input_message(parameters(&given));
    assert!(message.contains("`EgressCidr` is given twice"), "{message}");
}

#[test]
fn values_outside_allowed_values_or_ranges_are_rejected() {
    let message = input_message(parameters(&pairs(&[("LogRetentionDays", "15")])));
    assert!(
        message.contains("allowed values are 1, 3, 5, 7, 14"),
        "{message}"
    );
    let message = input_message(parameters(&pairs(&[("RunsRetentionDays", "a month")])));
    assert!(message.contains("must be a number"), "{message}");
    let message = input_message(parameters(&pairs(&[("HistoryRetentionDays", "0")])));
    assert!(message.contains("at least 1"), "{message}");
    assert!(parameters(&pairs(&[("HistoryRetentionDays", "3650")])).is_ok());
}

#[test]
fn the_repository_is_named_after_the_stack_unless_given() {
    let checked =
        stack_parameters("Perf-Tests", &pairs(&[("EgressCidr", "10.0.0.0/8")])).expect("valid");
    assert_eq!(
        checked,
        pairs(&[
            ("EgressCidr", "10.0.0.0/8"),
            (REPOSITORY_PARAMETER, "perf-tests")
        ])
    );
    let given = pairs(&[(REPOSITORY_PARAMETER, "team/loadgate")]);
    assert_eq!(
        stack_parameters("Perf-Tests", &given).expect("valid"),
        given
    );
}

#[test]
fn param_arguments_are_key_equals_value() {
    assert_eq!(
        parse_param("SubnetIds=subnet-1,subnet-2"),
        Ok(("SubnetIds".to_string(), "subnet-1,subnet-2".to_string()))
    );
    assert_eq!(
        parse_param("SecurityGroupId="),
        Ok(("SecurityGroupId".to_string(), String::new()))
    );
    assert_eq!(
        parse_param("A=b=c"),
        Ok(("A".to_string(), "b=c".to_string()))
    );
    assert!(parse_param("SubnetIds").is_err());
    assert!(parse_param("=x").is_err());
}

#[test]
fn hash_is_the_sha256_of_the_template_file() {
    assert_eq!(
        hex_sha256(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let on_disk = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/stack.yaml"))
        .expect("templates/stack.yaml");
    assert_eq!(sha256(), hex_sha256(&on_disk));
    assert_eq!(sha256().len(), 64);
}

#[test]
fn every_taggable_resource_carries_the_stack_tag() {
    // Resources without Tags in CloudFormation: attachments, routes, associations, policies.
    let untaggable = [
        "AWS::EC2::VPCGatewayAttachment",
        "AWS::EC2::Route",
        "AWS::EC2::SubnetRouteTableAssociation",
        "AWS::S3::BucketPolicy",
    ];
    let resources = TEMPLATE
        .split("\nResources:\n")
        .nth(1)
        .and_then(|rest| rest.split("\nOutputs:\n").next())
        .expect("a Resources section before Outputs");
    // Each resource starts at a key indented by two spaces; gather the lines under it.
    let mut blocks: Vec<String> = Vec::new();
    for line in resources.lines() {
        let top_level = line.starts_with("  ") && !line[2..].starts_with([' ', '#']);
        match blocks.last_mut() {
            Some(block) if !top_level => {
                block.push_str(line);
                block.push('\n');
            }
            _ if top_level => blocks.push(format!("{line}\n")),
            _ => {}
        }
    }
    let mut checked = 0;
    for block in &blocks {
        let kind = block
            .lines()
            .find_map(|l| l.trim().strip_prefix("Type: "))
            .unwrap_or_else(|| panic!("no Type in\n{block}"));
        if untaggable.contains(&kind) {
            continue;
        }
        checked += 1;
        assert!(
            block.contains("Key: \"loadgate:stack\", Value: !Ref AWS::StackName"),
            "{kind} is not tagged with {TAG_STACK}:\n{block}"
        );
    }
    assert!(checked >= 11, "only {checked} resources checked");
}

package ecstask

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// Secret is one of a container's secrets: ECS reads ValueFrom (a Secrets
// Manager secret or an SSM parameter) when the task starts and puts the value
// in environment variable Name.
type Secret struct {
	Name, ValueFrom string
}

// SecretsManagerAPI is the part of the Secrets Manager client Resolve uses.
type SecretsManagerAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// SSMAPI is the part of the SSM client Resolve uses.
type SSMAPI interface {
	GetParameters(ctx context.Context, in *ssm.GetParametersInput, optFns ...func(*ssm.Options)) (*ssm.GetParametersOutput, error)
}

// SecretResolver reads container secrets as the ECS agent does with the task
// execution role, from Secrets Manager and SSM Parameter Store (or their
// emulator).
type SecretResolver struct {
	SecretsManager SecretsManagerAPI
	SSM            SSMAPI
}

// Resolve returns the value of every secret by variable name. ValueFrom is
// what ECS accepts:
//
//   - a Secrets Manager secret ARN, optionally followed by
//     :json-key:version-stage:version-id (each part may be empty), where
//     json-key picks one key of a JSON secret;
//   - an SSM parameter ARN, or a parameter name (same region), read with
//     decryption.
//
// It fails on the first secret it cannot resolve, with an error naming the
// variable and its source and worded as ECS's stoppedReason: a task never
// starts with a secret silently empty.
func (r SecretResolver) Resolve(ctx context.Context, secrets []Secret) (map[string]string, error) {
	out := make(map[string]string, len(secrets))
	for _, s := range secrets {
		var v string
		var err error
		if parts := strings.Split(s.ValueFrom, ":"); len(parts) >= 6 && parts[0] == "arn" && parts[2] == "secretsmanager" {
			v, err = r.secretsManager(ctx, parts)
			if err != nil {
				return nil, fmt.Errorf("unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: failed to fetch secret %s for %s from secrets manager: %w", s.ValueFrom, s.Name, err)
			}
		} else {
			v, err = r.parameter(ctx, s.ValueFrom)
			if err != nil {
				return nil, fmt.Errorf("unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secrets from ssm: parameter %s for %s: %w", s.ValueFrom, s.Name, err)
			}
		}
		out[s.Name] = v
	}
	return out, nil
}

// secretsManager reads the secret of an ARN split at its colons:
// arn:aws:secretsmanager:region:account:secret:name[:json-key:stage:version].
func (r SecretResolver) secretsManager(ctx context.Context, parts []string) (string, error) {
	if r.SecretsManager == nil {
		return "", fmt.Errorf("no Secrets Manager client configured")
	}
	if (len(parts) != 7 && len(parts) != 10) || parts[5] != "secret" || parts[6] == "" {
		return "", fmt.Errorf("malformed secret ARN: want arn:aws:secretsmanager:region:account:secret:name[:json-key:version-stage:version-id]")
	}
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(strings.Join(parts[:7], ":"))}
	var key string
	if len(parts) == 10 {
		key = parts[7]
		if parts[8] != "" {
			in.VersionStage = aws.String(parts[8])
		}
		if parts[9] != "" {
			in.VersionId = aws.String(parts[9])
		}
	}
	out, err := r.SecretsManager.GetSecretValue(ctx, in)
	if err != nil {
		return "", err
	}
	if out.SecretString == nil {
		return "", fmt.Errorf("the secret has no string value (ECS does not inject binary secrets)")
	}
	if key == "" {
		return *out.SecretString, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(*out.SecretString), &fields); err != nil {
		return "", fmt.Errorf("json key %q: the secret is not a JSON object: %w", key, err)
	}
	raw, ok := fields[key]
	if !ok {
		return "", fmt.Errorf("json key %q not in the secret", key)
	}
	var str string
	if json.Unmarshal(raw, &str) == nil {
		return str, nil
	}
	return string(raw), nil // a number, boolean or object: its JSON text
}

// parameter reads an SSM parameter, given by ARN or name, with decryption.
func (r SecretResolver) parameter(ctx context.Context, valueFrom string) (string, error) {
	name := valueFrom
	if parts := strings.SplitN(valueFrom, ":", 6); len(parts) == 6 && parts[0] == "arn" {
		if parts[2] != "ssm" || !strings.HasPrefix(parts[5], "parameter/") {
			return "", fmt.Errorf("not a Secrets Manager secret or SSM parameter ARN")
		}
		// parameter/a/b is /a/b; parameter/x is x (names without a path have no slash).
		name = strings.TrimPrefix(parts[5], "parameter/")
		if strings.Contains(name, "/") {
			name = "/" + name
		}
	}
	if r.SSM == nil {
		return "", fmt.Errorf("no SSM client configured")
	}
	out, err := r.SSM.GetParameters(ctx, &ssm.GetParametersInput{Names: []string{name}, WithDecryption: aws.Bool(true)})
	if err != nil {
		return "", err
	}
	if len(out.InvalidParameters) > 0 || len(out.Parameters) != 1 {
		return "", fmt.Errorf("invalid parameters: %s", strings.Join(out.InvalidParameters, ", "))
	}
	return aws.ToString(out.Parameters[0].Value), nil
}

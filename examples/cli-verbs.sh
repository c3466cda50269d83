# Batch reads, env injection, dotenv, a backup, and a verified migration between two config files.
omnisecret store "$A" DB_USER=app DB_PASSWORD=s3cret
omnisecret store "$B" --from-dotenv - <<< "API_TOKEN='t#0k=='"
omnisecret get "$A" "$B"                          # {"<A>": {...}, "<B>": {...}}
omnisecret run "$A" "$B" -- sh -c 'test "$DB_PASSWORD" = s3cret && test -n "$API_TOKEN"'
omnisecret export "$B" --format dotenv > b.env    # API_TOKEN='t#0k=='
omnisecret update "$B" --from-dotenv b.env
omnisecret --config with-backup.json backup             # primary -> its backup
omnisecret --config with-backup.json restore --overwrite  # backup -> primary
omnisecret migrate --from from.json --to to.json --dry-run   # changes nothing
omnisecret migrate --from from.json --to to.json --delete-source

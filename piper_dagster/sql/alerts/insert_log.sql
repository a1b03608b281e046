-- What one delivery round did for one message and channel (alerts/deliver.py): alert_log.
-- Parameters: every alert_log column, by name.
INSERT INTO alert_log BY NAME
SELECT
    $sent_at::TIMESTAMPTZ AS sent_at, $message_id AS message_id, $channel AS channel, $kind AS kind,
    $check_name AS check_name, $scope AS scope, $partition_date::DATE AS partition_date,
    $status AS status, $previous_status AS previous_status, $run_id AS run_id, $ok AS ok,
    $attempts::INTEGER AS attempts, $error AS error, $title AS title

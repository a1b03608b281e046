-- The source family of an event, from its spool folder's user (contract §1): the farm poller and
-- the storage auditor write as svc_tractor / svc_storage, everything else comes from artists'
-- machines. One definition for every query that groups by family.
CREATE OR REPLACE TEMP MACRO piper_source_family(u) AS CASE u
    WHEN 'svc_tractor' THEN 'farm_poller'
    WHEN 'svc_storage' THEN 'storage_auditor'
    ELSE 'artists'
END;

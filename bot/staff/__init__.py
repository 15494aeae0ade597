"""The staff console at /staff: accounts and sessions (auth, accounts, accounts_console, cli),
case handling (cases_console), the 1999 hand-over desk (operator), the hash-chained access
log (audit, case_views), and the curation loop, knowledge editing and month report
(curation*, curated_examples, retrain, knowledge*, reports*)."""

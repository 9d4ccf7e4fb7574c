"""The CEC Dashboard: the one page composed of several apps' data (certification tiles, cart lines, the CEC
ledger), and the Report CECs form it opens. It imports the apps; no app imports it."""

package io.github.gracefulshutdown.demo;

import java.time.Duration;

import io.github.gracefulshutdown.Background;
import io.github.gracefulshutdown.ShutdownToken;

import org.springframework.beans.factory.annotation.Value;
import org.springframework.stereotype.Component;

/**
 * Two long-lived jobs: a light one with short units and a heavy one with long units.
 * Each finishes the unit it is in when shutdown starts, then returns.
 */
@Component
class LedgerJobs {

	private final Journal journal;

	private final Duration lightUnit;

	private final Duration heavyUnit;

	private final Duration pause;

	LedgerJobs(Journal journal, @Value("${demo.light.unit:2s}") Duration lightUnit,
			@Value("${demo.heavy.unit:15s}") Duration heavyUnit, @Value("${demo.pause:200ms}") Duration pause) {
		this.journal = journal;
		this.lightUnit = lightUnit;
		this.heavyUnit = heavyUnit;
		this.pause = pause;
	}

	@Background(name = "ledger-sync")
	void syncLedger(ShutdownToken token) {
		loop("ledger-sync", this.lightUnit, token);
	}

	@Background(name = "ledger-rebuild")
	void rebuildLedger(ShutdownToken token) {
		loop("ledger-rebuild", this.heavyUnit, token);
	}

	private void loop(String job, Duration unit, ShutdownToken token) {
		int n = 0;
		do {
			this.journal.unit(job, String.valueOf(++n), unit);
		}
		while (token.sleep(this.pause));
	}

}

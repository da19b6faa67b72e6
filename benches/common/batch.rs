//! Seeding helper shared by the benchmarks: a write transaction that commits
//! and reopens every `rows_per_tx` rows.

use fieldpay::store::{Db, StoreError, Tx};

pub struct Batch<'a> {
    db: &'a Db,
    tx: Option<Tx>,
    rows: usize,
    rows_per_tx: usize,
}

impl<'a> Batch<'a> {
    pub async fn open(db: &'a Db, rows_per_tx: usize) -> anyhow::Result<Batch<'a>> {
        Ok(Batch {
            db,
            tx: Some(db.begin_write().await?),
            rows: 0,
            rows_per_tx,
        })
    }

    pub fn tx(&mut self) -> &mut Tx {
        self.tx
            .as_mut()
            .expect("a transaction is open between batches")
    }

    pub async fn wrote(&mut self, rows: usize) -> anyhow::Result<()> {
        self.rows += rows;
        if self.rows >= self.rows_per_tx {
            self.commit().await?;
            self.tx = Some(self.db.begin_write().await?);
            self.rows = 0;
        }
        Ok(())
    }

    pub async fn commit(&mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.tx.take() {
            tx.commit().await.map_err(StoreError::from)?;
        }
        Ok(())
    }
}
